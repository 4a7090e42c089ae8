// Reads the parts of a Dapr Configuration file (--config) that invocation and security use:
// spec.accessControl and spec.nameResolution.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { parseAccessControl, type AccessControlSpec } from "./access-control.js";
import { parseApiAccess, type ApiAccessRules } from "../api/api-access.js";

export interface InvocationConfiguration {
  accessControl?: AccessControlSpec;
  /** spec.nameResolution.component, e.g. "static" → plugin nameresolution.static */
  nameResolution?: { component: string; configuration: Record<string, string> };
}

/** The Configuration spec sections rapr acts on; any other is named in a warning at start (see configurationWarning). */
export const IMPLEMENTED_CONFIGURATION_SECTIONS = ["accessControl", "nameResolution", "api"];

/** One warning line naming the --config spec sections rapr does not implement yet (undefined: none, or no file). */
export function configurationWarning(path: string | undefined): string | undefined {
  if (!path) return undefined;
  let doc: any;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch {
    return undefined; // readInvocationConfiguration reports the error
  }
  const spec = doc?.spec;
  if (!spec || typeof spec !== "object") return undefined;
  const ignored = Object.keys(spec).filter((k) => !IMPLEMENTED_CONFIGURATION_SECTIONS.includes(k));
  return ignored.length ? `--config ${path}: not implemented yet, ignored: spec.${ignored.join(", spec.")} (implemented: ${IMPLEMENTED_CONFIGURATION_SECTIONS.join(", ")})` : undefined;
}

/** The spec of the --config file ({} without one); an unreadable file or another kind is an error naming it. */
function readConfigurationSpec(path: string | undefined): Record<string, any> {
  if (!path) return {};
  let doc: any;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`--config ${path}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object") return {};
  if (doc.kind !== undefined && doc.kind !== "Configuration") throw new Error(`--config ${path}: kind must be Configuration, got ${JSON.stringify(doc.kind)}`);
  return doc.spec ?? {};
}

/** spec.api: the API groups served over HTTP and gRPC (undefined: all). */
export function readApiAccess(path: string | undefined): ApiAccessRules | undefined {
  return parseApiAccess(readConfigurationSpec(path).api, `--config ${path}`);
}

export function readInvocationConfiguration(path: string | undefined): InvocationConfiguration {
  if (!path) return {};
  const spec = readConfigurationSpec(path);
  const out: InvocationConfiguration = { accessControl: parseAccessControl(spec.accessControl, path) };
  const nr = spec.nameResolution;
  if (nr && typeof nr === "object" && typeof nr.component === "string") {
    const conf: Record<string, string> = {};
    if (nr.configuration && typeof nr.configuration === "object") {
      for (const [k, v] of Object.entries(nr.configuration)) conf[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    out.nameResolution = { component: nr.component, configuration: conf };
  }
  return out;
}
