// Dapr's Resiliency resource (kind: Resiliency) parsed into typed policies and targets.
import { parseDuration } from "../components/metadata-schema.js";
import { compileTrip, type TripFn } from "./trip.js";

export interface RetryPolicy {
  name: string;
  policy: "constant" | "exponential";
  /** constant: wait between attempts. */
  durationMs: number;
  /** exponential: ceiling of the wait. */
  maxIntervalMs: number;
  /** -1: retry forever. */
  maxRetries: number;
  /** Status codes that count as retriable failures; undefined: every status >= 500. */
  httpStatusCodes?: (code: number) => boolean;
  grpcStatusCodes?: (code: number) => boolean;
}

export interface CircuitBreakerPolicy {
  name: string;
  maxRequests: number;
  intervalMs: number;
  timeoutMs: number;
  trip: TripFn;
  tripText: string;
}

export interface TargetPolicy {
  timeoutMs?: number;
  retry?: RetryPolicy;
  circuitBreaker?: CircuitBreakerPolicy;
  /** Names, for logs and errors. */
  describe: string;
}

export interface ResiliencySpec {
  name: string;
  apps: Map<string, TargetPolicy>;
  components: Map<string, { outbound?: TargetPolicy; inbound?: TargetPolicy }>;
  actors: Map<string, TargetPolicy>;
  /** DaprBuiltInServiceRetries etc., when declared. */
  builtIn: Map<string, RetryPolicy>;
}

export class ResiliencyError extends Error {
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.name = "ResiliencyError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

export function parseResiliency(name: string, body: Obj, source: string): ResiliencySpec {
  const fail = (msg: string) => new ResiliencyError(source, msg);
  const spec = isObj(body.spec) ? body.spec : {};
  const policies = isObj(spec.policies) ? spec.policies : {};
  const dur = (v: unknown, where: string, dflt?: number): number => {
    if (v === undefined || v === null || v === "") {
      if (dflt === undefined) throw fail(`${where} is required`);
      return dflt;
    }
    const ms = typeof v === "number" ? v * 1000 : parseDuration(String(v));
    if (ms === undefined) throw fail(`${where}: "${v}" is not a duration like 500ms, 5s, 1m30s`);
    return ms;
  };
  const timeouts = new Map<string, number>();
  for (const [k, v] of Object.entries(isObj(policies.timeouts) ? policies.timeouts : {})) timeouts.set(k, dur(v, `spec.policies.timeouts.${k}`));
  const retries = new Map<string, RetryPolicy>();
  for (const [k, v] of Object.entries(isObj(policies.retries) ? policies.retries : {})) {
    if (!isObj(v)) throw fail(`spec.policies.retries.${k} must be a mapping`);
    const policy = String(v.policy ?? "constant");
    if (policy !== "constant" && policy !== "exponential") throw fail(`spec.policies.retries.${k}.policy must be constant or exponential, got "${policy}"`);
    const maxRetries = v.maxRetries === undefined ? -1 : Number(v.maxRetries);
    if (!Number.isInteger(maxRetries) || maxRetries < -1) throw fail(`spec.policies.retries.${k}.maxRetries must be an integer >= -1`);
    const matching = isObj(v.matching) ? v.matching : {};
    retries.set(k, {
      name: k,
      policy,
      durationMs: dur(v.duration, `spec.policies.retries.${k}.duration`, 5000),
      maxIntervalMs: dur(v.maxInterval, `spec.policies.retries.${k}.maxInterval`, 60_000),
      maxRetries,
      httpStatusCodes: matching.httpStatusCodes ? codeSet(String(matching.httpStatusCodes), 100, 599, `spec.policies.retries.${k}.matching.httpStatusCodes`, fail) : undefined,
      grpcStatusCodes: matching.gRPCStatusCodes ? codeSet(String(matching.gRPCStatusCodes), 0, 16, `spec.policies.retries.${k}.matching.gRPCStatusCodes`, fail) : undefined,
    });
  }
  const breakers = new Map<string, CircuitBreakerPolicy>();
  for (const [k, v] of Object.entries(isObj(policies.circuitBreakers) ? policies.circuitBreakers : {})) {
    if (!isObj(v)) throw fail(`spec.policies.circuitBreakers.${k} must be a mapping`);
    const tripText = String(v.trip ?? "consecutiveFailures > 5");
    let trip: TripFn;
    try {
      trip = compileTrip(tripText);
    } catch (err) {
      throw fail(`spec.policies.circuitBreakers.${k}.trip: ${(err as Error).message}`);
    }
    const maxRequests = v.maxRequests === undefined ? 1 : Number(v.maxRequests);
    if (!Number.isInteger(maxRequests) || maxRequests < 1) throw fail(`spec.policies.circuitBreakers.${k}.maxRequests must be an integer >= 1`);
    breakers.set(k, {
      name: k,
      maxRequests,
      intervalMs: dur(v.interval, `spec.policies.circuitBreakers.${k}.interval`, 0),
      timeoutMs: dur(v.timeout, `spec.policies.circuitBreakers.${k}.timeout`, 60_000),
      trip,
      tripText,
    });
  }
  const target = (t: unknown, where: string): TargetPolicy => {
    if (!isObj(t)) throw fail(`${where} must be a mapping`);
    const out: TargetPolicy = { describe: "" };
    const parts: string[] = [];
    if (t.timeout !== undefined) {
      const named = timeouts.get(String(t.timeout));
      out.timeoutMs = named ?? dur(t.timeout, `${where}.timeout (no timeout policy named "${t.timeout}")`);
      parts.push(`timeout ${t.timeout}`);
    }
    if (t.retry !== undefined) {
      out.retry = retries.get(String(t.retry));
      if (!out.retry) throw fail(`${where}.retry: no retry policy named "${t.retry}"`);
      parts.push(`retry ${t.retry}`);
    }
    if (t.circuitBreaker !== undefined) {
      out.circuitBreaker = breakers.get(String(t.circuitBreaker));
      if (!out.circuitBreaker) throw fail(`${where}.circuitBreaker: no circuit breaker named "${t.circuitBreaker}"`);
      parts.push(`circuitBreaker ${t.circuitBreaker}`);
    }
    out.describe = `resiliency ${name}: ${parts.join(", ")}`;
    return out;
  };
  const targets = isObj(spec.targets) ? spec.targets : {};
  const apps = new Map<string, TargetPolicy>();
  for (const [k, v] of Object.entries(isObj(targets.apps) ? targets.apps : {})) apps.set(k, target(v, `spec.targets.apps.${k}`));
  const actors = new Map<string, TargetPolicy>();
  for (const [k, v] of Object.entries(isObj(targets.actors) ? targets.actors : {})) actors.set(k, target(v, `spec.targets.actors.${k}`));
  const components = new Map<string, { outbound?: TargetPolicy; inbound?: TargetPolicy }>();
  for (const [k, v] of Object.entries(isObj(targets.components) ? targets.components : {})) {
    if (!isObj(v)) throw fail(`spec.targets.components.${k} must be a mapping`);
    const hasDirection = v.outbound !== undefined || v.inbound !== undefined;
    components.set(k, hasDirection
      ? {
        outbound: v.outbound !== undefined ? target(v.outbound, `spec.targets.components.${k}.outbound`) : undefined,
        inbound: v.inbound !== undefined ? target(v.inbound, `spec.targets.components.${k}.inbound`) : undefined,
      }
      : { outbound: target(v, `spec.targets.components.${k}`) });
  }
  const builtIn = new Map<string, RetryPolicy>();
  for (const [k, r] of retries) if (k.startsWith("DaprBuiltIn")) builtIn.set(k, r);
  return { name, apps, components, actors, builtIn };
}

function codeSet(text: string, min: number, max: number, where: string, fail: (m: string) => Error): (code: number) => boolean {
  const ranges: [number, number][] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || lo < min || hi > max || lo > hi) throw fail(`${where}: "${part}" is not a code or range within ${min}-${max}`);
    ranges.push([lo, hi]);
  }
  return (code) => ranges.some(([lo, hi]) => code >= lo && code <= hi);
}
