// Runs an operation under a target's resiliency policy: per-attempt timeout, retries (constant or
// exponential back-off), and a circuit breaker around each attempt. Reused by invocation and components.
import { CircuitBreaker, CircuitOpenError } from "./circuit-breaker.js";
import { sleepUnless } from "./sleep.js";
import type { ResiliencySpec, RetryPolicy, TargetPolicy } from "./spec.js";

export type ResiliencyTarget =
  | { app: string }
  | { component: string; direction?: "outbound" | "inbound" }
  | { actor: string };

export class PolicyTimeoutError extends Error {
  constructor(readonly timeoutMs: number, target: string) {
    super(`${target}: no answer within the resiliency timeout of ${timeoutMs} ms`);
    this.name = "PolicyTimeoutError";
  }
}

/** RunOptions.stop had fired before the first attempt: nothing was tried. */
export class CallerLeftError extends Error {
  constructor(target: string) {
    super(`${target}: given up before the first attempt (the caller left, or the sidecar is stopping)`);
    this.name = "CallerLeftError";
  }
}

export interface RunOptions<T> {
  /** A result that counts as a failure: retried and counted by the breaker, returned as is when retries run out. */
  failedResult?(result: T, retry: RetryPolicy | undefined): boolean;
  /** Errors never retried (bad input, access denied, the caller left…); the circuit breaker does not count them. */
  permanent?(err: unknown): boolean;
  /** Called before each retry, e.g. to re-resolve an address. */
  onRetry?(attempt: number, reason: unknown): void;
  sleep?(ms: number, stop?: AbortSignal): Promise<void>;
  /** The caller left: no further attempt starts and a backoff ends at once with the last attempt's outcome. The
   * attempt already running is not interrupted, so the circuit breaker counts only what the target did. */
  stop?: AbortSignal;
}

export function describeTarget(t: ResiliencyTarget): string {
  if ("app" in t) return `app ${t.app}`;
  if ("component" in t) return `component ${t.component}${t.direction === "inbound" ? " (inbound)" : ""}`;
  return `actor type ${t.actor}`;
}

/** Default: a result fails when it is an HTTP status >= 500, or in the policy's matching codes. */
export function statusIsFailure(status: number, retry: RetryPolicy | undefined): boolean {
  if (retry?.httpStatusCodes) return retry.httpStatusCodes(status);
  return status >= 500;
}

export async function runWithPolicy<T>(
  policy: TargetPolicy | undefined,
  breaker: CircuitBreaker | undefined,
  target: string,
  fn: (signal: AbortSignal | undefined) => Promise<T>,
  opts: RunOptions<T> = {},
): Promise<T> {
  if (!policy) return fn(undefined);
  const retry = policy.retry;
  const sleep = opts.sleep ?? sleepUnless;
  let attempt = 0;
  for (;;) {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    if (opts.stop?.aborted && attempt === 0) throw new CallerLeftError(target);
    const generation = breaker?.before(); // an open circuit throws: fail fast, never retried
    try {
      const value = await withTimeout(policy.timeoutMs, target, fn);
      const failed = opts.failedResult?.(value, retry) ?? false;
      breaker?.after(!failed, generation);
      if (!failed) return value;
      outcome = { ok: true, value };
    } catch (err) {
      if (err instanceof CircuitOpenError || opts.permanent?.(err)) {
        breaker?.release(generation); // not the target's failure: the breaker does not count it
        throw err;
      }
      breaker?.after(false, generation);
      outcome = { ok: false, error: err };
    }
    const last = () => {
      if (outcome.ok) return outcome.value;
      throw outcome.error;
    };
    if (!retry || (retry.maxRetries !== -1 && attempt >= retry.maxRetries) || opts.stop?.aborted) return last();
    attempt++;
    await sleep(backoffMs(retry, attempt), opts.stop);
    if (opts.stop?.aborted) return last();
    opts.onRetry?.(attempt, outcome.ok ? outcome.value : outcome.error);
  }
}

export function backoffMs(retry: RetryPolicy, attempt: number): number {
  if (retry.policy === "constant") return retry.durationMs;
  // exponential: 500 ms initial, ×1.5 per attempt, ±50% jitter, capped at maxInterval (Dapr's defaults).
  const base = 500 * Math.pow(1.5, attempt - 1);
  const jittered = base * (0.5 + Math.random());
  return Math.min(retry.maxIntervalMs, jittered);
}

async function withTimeout<T>(timeoutMs: number | undefined, target: string, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (timeoutMs === undefined) return fn(undefined);
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      fn(ac.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new PolicyTimeoutError(timeoutMs, target);
          reject(err); // first, so the race settles with the timeout, not with the attempt's reaction to abort
          ac.abort(err);
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** All loaded Resiliency resources; finds a target's policy and keeps one circuit breaker per target. */
export class Resiliency {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly specs: ResiliencySpec[] = []) {}

  get empty(): boolean {
    return this.specs.length === 0;
  }

  policyFor(t: ResiliencyTarget): TargetPolicy | undefined {
    for (const s of this.specs) {
      if ("app" in t && s.apps.has(t.app)) return s.apps.get(t.app);
      if ("actor" in t && s.actors.has(t.actor)) return s.actors.get(t.actor);
      if ("component" in t) {
        const c = s.components.get(t.component);
        const p = t.direction === "inbound" ? c?.inbound : c?.outbound;
        if (p) return p;
      }
    }
    return undefined;
  }

  builtInRetry(name: string): RetryPolicy | undefined {
    for (const s of this.specs) if (s.builtIn.has(name)) return s.builtIn.get(name);
    return undefined;
  }

  breakerFor(t: ResiliencyTarget, policy: TargetPolicy | undefined): CircuitBreaker | undefined {
    if (!policy?.circuitBreaker) return undefined;
    const key = describeTarget(t);
    let b = this.breakers.get(key);
    if (!b) this.breakers.set(key, (b = new CircuitBreaker(policy.circuitBreaker, key)));
    return b;
  }

  /** runWithPolicy for a named target; without a policy it just calls fn. */
  run<T>(t: ResiliencyTarget, fn: (signal: AbortSignal | undefined) => Promise<T>, opts: RunOptions<T> = {}): Promise<T> {
    const policy = this.policyFor(t);
    if (!policy) return fn(undefined);
    return runWithPolicy(policy, this.breakerFor(t, policy), describeTarget(t), fn, opts);
  }
}
