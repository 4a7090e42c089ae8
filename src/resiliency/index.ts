// Resiliency: Dapr Resiliency resources → policies any block can run its calls under.
import type { RawResource } from "../components/loader.js";
import { parseResiliency } from "./spec.js";
import { Resiliency } from "./policy.js";

export { Resiliency, runWithPolicy, statusIsFailure, PolicyTimeoutError, CallerLeftError, describeTarget, type ResiliencyTarget, type RunOptions } from "./policy.js";
export { CircuitBreaker, CircuitOpenError } from "./circuit-breaker.js";
export { parseResiliency, ResiliencyError, type ResiliencySpec, type TargetPolicy, type RetryPolicy } from "./spec.js";

/** Builds the Resiliency set from the resources of kind Resiliency scoped to this app. */
export function resiliencyFromResources(resources: RawResource[], appId: string): Resiliency {
  const specs = resources
    .filter((r) => r.kind === "Resiliency" && (r.scopes.length === 0 || r.scopes.includes(appId)))
    .map((r) => parseResiliency(r.name, r.body, r.source));
  return new Resiliency(specs);
}
