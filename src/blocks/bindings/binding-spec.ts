// Which way a bindings component works and where its input events go: its `direction` and `route` metadata (as
// resolved by the registry, so a secretKeyRef counts), checked against what its plugin implements.
import { isInputBinding, isOutputBinding, type Binding } from "../../components/contracts/bindings.js";
import { ComponentInitError, type LoadedComponent } from "../../components/registry.js";

export type Direction = "input" | "output";

export interface BindingInfo {
  name: string;
  type: string;
  instance: Binding;
  /** The app may call it: POST /v1.0/bindings/{name}. */
  output: boolean;
  /** It triggers the app with events. */
  input: boolean;
  /** `direction` names "input": as in Dapr, events go to the app without asking it first whether it listens. */
  inputDeclared: boolean;
  /** Directions `direction` names that the plugin does not implement (ignored, with a warning). */
  unsupported: Direction[];
  /** Path on the app that input events are posted to, without the leading slash. */
  route: string;
}

// A path of URL characters: anything else would have to be escaped and is most likely a mistake in the YAML.
const ROUTE = /^\/*[A-Za-z0-9\-._~!$&'()*+,;=:@%/]+$/;

/** The item's resolved value, names compared without case as Dapr does for `direction`. */
function item(lc: LoadedComponent, name: string): string | undefined {
  for (const [k, v] of Object.entries(lc.metadata)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function parseDirection(lc: LoadedComponent, raw: string): Set<Direction> {
  const out = new Set<Direction>();
  for (const part of raw.split(",").map((p) => p.trim().toLowerCase()).filter(Boolean)) {
    if (part !== "input" && part !== "output") {
      throw new ComponentInitError(lc.spec, `metadata field "direction": must be "input", "output" or "input, output", got "${raw}"`);
    }
    out.add(part);
  }
  if (out.size === 0) throw new ComponentInitError(lc.spec, `metadata field "direction": must be "input", "output" or "input, output", got "${raw}"`);
  return out;
}

/** Throws ComponentInitError (naming the file and the field) for a bad `direction` or `route`. */
export function bindingInfo(lc: LoadedComponent): BindingInfo {
  const instance = lc.instance as Binding;
  const implemented = new Set<Direction>();
  if (isInputBinding(instance)) implemented.add("input");
  if (isOutputBinding(instance)) implemented.add("output");
  const rawDirection = item(lc, "direction");
  const declared = rawDirection === undefined || rawDirection.trim() === "" ? undefined : parseDirection(lc, rawDirection);
  const wanted = declared ?? implemented;
  const usable = [...wanted].filter((d) => implemented.has(d));
  if (usable.length === 0) {
    const can = implemented.size ? `an ${[...implemented].join(" and ")} binding only` : "neither an input nor an output binding";
    throw new ComponentInitError(lc.spec, `metadata field "direction": "${rawDirection}" does not fit ${lc.spec.type}, which is ${can}`);
  }
  const rawRoute = item(lc, "route")?.trim();
  if (rawRoute && !ROUTE.test(rawRoute)) {
    throw new ComponentInitError(lc.spec, `metadata field "route": must be a URL path such as "/orders", got "${rawRoute}"`);
  }
  const route = rawRoute ? rawRoute.replace(/^\/+/, "") : "";
  return {
    name: lc.spec.name,
    type: lc.spec.type,
    instance,
    output: usable.includes("output"),
    input: usable.includes("input"),
    inputDeclared: declared?.has("input") === true && implemented.has("input"),
    unsupported: [...wanted].filter((d) => !implemented.has(d)),
    route: route || lc.spec.name,
  };
}
