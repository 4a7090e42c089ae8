// A circuit breaker with gobreaker's semantics (what Dapr uses): closed → open when the trip expression
// holds after a failure; open fails fast for `timeout`, then half-open lets `maxRequests` trial calls
// through; that many successes close it, one failure opens it again. Counts reset every `interval` (0: never)
// while closed.
import type { CircuitBreakerPolicy } from "./spec.js";
import type { BreakerCounts } from "./trip.js";

export type BreakerState = "closed" | "open" | "half-open";

export class CircuitOpenError extends Error {
  constructor(readonly breaker: string, readonly target: string) {
    super(`circuit breaker "${breaker}" for ${target} is open`);
    this.name = "CircuitOpenError";
  }
}

export class CircuitBreaker {
  private state: BreakerState = "closed";
  private counts: BreakerCounts = zero();
  private openedAt = 0;
  private windowStart: number;
  private halfOpenInFlight = 0;
  /** Bumped whenever the counts start afresh (a new state, a new interval): a call that began in an earlier
   * generation no longer counts, nor frees a half-open slot it never held (gobreaker's rule). */
  private generation = 0;

  constructor(readonly policy: CircuitBreakerPolicy, readonly target: string, private readonly now: () => number = Date.now) {
    this.windowStart = now();
  }

  get currentState(): BreakerState {
    this.advance();
    return this.state;
  }

  /** Throws CircuitOpenError when no call may pass now; otherwise reserves a slot and returns the generation to
   * hand to after() or release(). */
  before(): number {
    this.advance();
    if (this.state === "open") throw new CircuitOpenError(this.policy.name, this.target);
    if (this.state === "half-open") {
      if (this.halfOpenInFlight >= this.policy.maxRequests) throw new CircuitOpenError(this.policy.name, this.target);
      this.halfOpenInFlight++;
    }
    this.counts.requests++;
    return this.generation;
  }

  after(success: boolean, generation = this.generation): void {
    this.advance();
    if (generation !== this.generation) return;
    const wasHalfOpen = this.state === "half-open";
    if (wasHalfOpen) this.halfOpenInFlight = Math.max(0, this.halfOpenInFlight - 1);
    const c = this.counts;
    if (success) {
      c.totalSuccesses++;
      c.consecutiveSuccesses++;
      c.consecutiveFailures = 0;
      if (wasHalfOpen && c.consecutiveSuccesses >= this.policy.maxRequests) this.toState("closed");
    } else {
      c.totalFailures++;
      c.consecutiveFailures++;
      c.consecutiveSuccesses = 0;
      if (wasHalfOpen || (this.state === "closed" && this.policy.trip(c))) this.toState("open");
    }
  }

  /** Ends a call that says nothing about the target (the caller left, a request that can never succeed): frees
   * its half-open slot and takes it out of the counts. */
  release(generation = this.generation): void {
    this.advance();
    if (generation !== this.generation) return;
    if (this.state === "half-open") this.halfOpenInFlight = Math.max(0, this.halfOpenInFlight - 1);
    this.counts.requests = Math.max(0, this.counts.requests - 1);
  }

  private advance(): void {
    const t = this.now();
    if (this.state === "open" && t - this.openedAt >= this.policy.timeoutMs) this.toState("half-open");
    else if (this.state === "closed" && this.policy.intervalMs > 0 && t - this.windowStart >= this.policy.intervalMs) {
      this.counts = zero();
      this.windowStart = t;
      this.generation++;
    }
  }

  private toState(s: BreakerState): void {
    this.state = s;
    this.counts = zero();
    this.windowStart = this.now();
    this.halfOpenInFlight = 0;
    this.generation++;
    if (s === "open") this.openedAt = this.now();
  }
}

function zero(): BreakerCounts {
  return { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 0 };
}
