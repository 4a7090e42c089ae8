// Reads Dapr resource YAML (Component and other kinds) from --resources-path directories.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ComponentSpec, MetadataItem } from "./component.js";
import { parseDuration } from "./metadata-schema.js";

export class ResourceError extends Error {
  constructor(readonly source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "ResourceError";
  }
}

/** A YAML document of any kind other than Component, for the blocks that own it (Subscription, Configuration, Resiliency…). */
export interface RawResource {
  kind: string;
  apiVersion: string;
  name: string;
  scopes: string[];
  body: Record<string, unknown>;
  source: string;
}

export interface LoadedResources {
  components: ComponentSpec[];
  others: RawResource[];
}

export function loadResourcePaths(paths: string[]): LoadedResources {
  const out: LoadedResources = { components: [], others: [] };
  for (const dir of paths) {
    for (const file of listYamlFiles(dir)) {
      const parsed = parseResourceFile(readFileSync(file, "utf8"), file);
      out.components.push(...parsed.components);
      out.others.push(...parsed.others);
    }
  }
  return out;
}

function listYamlFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ResourceError(path, "resources path does not exist");
  }
  if (st.isFile()) return [path];
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/i.test(f))
    .sort()
    .map((f) => join(path, f));
}

export function parseResourceFile(text: string, file: string): LoadedResources {
  const out: LoadedResources = { components: [], others: [] };
  const docs = parseAllDocuments(text);
  docs.forEach((doc, i) => {
    const source = docs.length > 1 ? `${file}#${i + 1}` : file;
    if (doc.errors.length) throw new ResourceError(source, `invalid YAML: ${doc.errors[0].message}`);
    const body = doc.toJS();
    if (body === null || body === undefined) return;
    if (typeof body !== "object" || Array.isArray(body)) throw new ResourceError(source, "a resource must be a YAML mapping");
    const kind = body.kind;
    if (typeof kind !== "string") throw new ResourceError(source, 'field "kind" is required');
    if (kind === "Component") out.components.push(parseComponent(body, source));
    else out.others.push(parseOther(body, kind, source));
  });
  return out;
}

function parseOther(body: any, kind: string, source: string): RawResource {
  const name = body.metadata?.name;
  if (typeof name !== "string" || !name) throw new ResourceError(source, `${kind}: field "metadata.name" is required`);
  return { kind, apiVersion: String(body.apiVersion ?? ""), name, scopes: stringList(body.scopes, source, "scopes"), body, source };
}

export function parseComponent(body: any, source: string): ComponentSpec {
  const name = body.metadata?.name;
  if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) {
    throw new ResourceError(source, `component: field "metadata.name" is required and must be a valid name, got ${JSON.stringify(name)}`);
  }
  const where = `component "${name}"`;
  if (body.apiVersion !== undefined && body.apiVersion !== "dapr.io/v1alpha1") {
    throw new ResourceError(source, `${where}: field "apiVersion" must be "dapr.io/v1alpha1", got ${JSON.stringify(body.apiVersion)}`);
  }
  const spec = body.spec;
  if (!spec || typeof spec !== "object") throw new ResourceError(source, `${where}: field "spec" is required`);
  if (typeof spec.type !== "string" || !/^[a-z0-9]+\.[A-Za-z0-9_.-]+$/.test(spec.type)) {
    throw new ResourceError(source, `${where}: field "spec.type" must look like "state.postgresql", got ${JSON.stringify(spec.type)}`);
  }
  const version = spec.version === undefined ? "v1" : String(spec.version);
  if (!/^v\d+(alpha\d*|beta\d*)?$/.test(version)) {
    throw new ResourceError(source, `${where}: field "spec.version" must look like "v1", got ${JSON.stringify(spec.version)}`);
  }
  const metadata = parseMetadataItems(spec.metadata, source, where);
  let initTimeoutMs: number | undefined;
  if (spec.initTimeout !== undefined) {
    initTimeoutMs = parseDuration(String(spec.initTimeout));
    if (initTimeoutMs === undefined) throw new ResourceError(source, `${where}: field "spec.initTimeout" is not a duration: ${JSON.stringify(spec.initTimeout)}`);
  }
  const ignore = spec.ignoreErrors;
  if (ignore !== undefined && typeof ignore !== "boolean") {
    throw new ResourceError(source, `${where}: field "spec.ignoreErrors" must be true or false`);
  }
  return {
    name,
    namespace: body.metadata?.namespace,
    type: spec.type,
    version,
    metadata,
    ignoreErrors: ignore === true,
    initTimeoutMs,
    secretStore: typeof body.auth?.secretStore === "string" ? body.auth.secretStore : undefined,
    scopes: stringList(body.scopes, source, `${where}: scopes`),
    source,
  };
}

/** A list of {name, value} or {name, secretKeyRef: {name, key}} items (component metadata, HTTPEndpoint headers). */
export function parseMetadataItems(raw: unknown, source: string, where: string, field = "spec.metadata"): MetadataItem[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ResourceError(source, `${where}: field "${field}" must be a list of {name, value}`);
  return raw.map((item, i) => {
    const at = `${where}: ${field}[${i}]`;
    if (!item || typeof item !== "object" || typeof item.name !== "string" || !item.name) {
      throw new ResourceError(source, `${at}: field "name" is required`);
    }
    const fieldAt = `${where}: metadata field "${item.name}"`;
    if (item.secretKeyRef !== undefined) {
      const ref = item.secretKeyRef;
      if (!ref || typeof ref.name !== "string" || !ref.name) {
        throw new ResourceError(source, `${fieldAt}: "secretKeyRef.name" is required`);
      }
      return { name: item.name, secretKeyRef: { name: ref.name, key: ref.key === undefined ? undefined : String(ref.key) } };
    }
    const v = item.value;
    if (v !== undefined && v !== null && typeof v === "object") {
      return { name: item.name, value: JSON.stringify(v) };
    }
    return { name: item.name, value: v === undefined || v === null ? "" : String(v) };
  });
}

function stringList(raw: unknown, source: string, what: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== "string")) throw new ResourceError(source, `${what} must be a list of strings`);
  return raw as string[];
}
