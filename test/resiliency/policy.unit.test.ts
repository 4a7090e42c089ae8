import { describe, expect, test } from "bun:test";
import { CallerLeftError, CircuitBreaker, CircuitOpenError, parseResiliency, PolicyTimeoutError, Resiliency, ResiliencyError, runWithPolicy } from "../../src/resiliency/index.js";
import { compileTrip } from "../../src/resiliency/trip.js";

const spec = (policies: object, targets: object) => ({ spec: { policies, targets } });
const noSleep = { sleep: async () => {} };

describe("trip expressions", () => {
  test("comparisons joined by && and ||", () => {
    const t = compileTrip("consecutiveFailures > 2 || requests >= 10 && totalFailures > 4");
    const c = { requests: 0, totalSuccesses: 0, totalFailures: 0, consecutiveSuccesses: 0, consecutiveFailures: 3 };
    expect(t(c)).toBe(true);
    expect(t({ ...c, consecutiveFailures: 2 })).toBe(false);
    expect(t({ ...c, consecutiveFailures: 0, requests: 10, totalFailures: 5 })).toBe(true);
  });
  test("an unknown counter is rejected with the names it knows", () => {
    expect(() => compileTrip("failures > 3")).toThrow(/consecutiveFailures/);
  });
});

describe("parsing", () => {
  test("named policies are resolved per target; components may have inbound/outbound", () => {
    const s = parseResiliency("r", spec(
      { timeouts: { fast: "250ms" }, retries: { r3: { policy: "exponential", maxInterval: "2s", maxRetries: 3 } }, circuitBreakers: { cb: { trip: "consecutiveFailures > 1", timeout: "5s" } } },
      { apps: { orders: { timeout: "fast", retry: "r3", circuitBreaker: "cb" } }, components: { statestore: { outbound: { timeout: "1s" } } } },
    ), "file.yaml");
    const p = s.apps.get("orders")!;
    expect(p.timeoutMs).toBe(250);
    expect(p.retry).toMatchObject({ policy: "exponential", maxRetries: 3, maxIntervalMs: 2000 });
    expect(p.circuitBreaker).toMatchObject({ timeoutMs: 5000, maxRequests: 1 });
    expect(s.components.get("statestore")!.outbound!.timeoutMs).toBe(1000);
  });
  test("a target naming a missing policy fails, naming file and field", () => {
    expect(() => parseResiliency("r", spec({}, { apps: { a: { retry: "nope" } } }), "res.yaml")).toThrow(ResiliencyError);
    expect(() => parseResiliency("r", spec({}, { apps: { a: { retry: "nope" } } }), "res.yaml")).toThrow(/res\.yaml: spec\.targets\.apps\.a\.retry/);
  });
  test("matching.httpStatusCodes accepts codes and ranges", () => {
    const s = parseResiliency("r", spec({ retries: { m: { maxRetries: 1, matching: { httpStatusCodes: "429,500-503" } } } }, { apps: { a: { retry: "m" } } }), "f");
    const match = s.apps.get("a")!.retry!.httpStatusCodes!;
    expect([429, 500, 503, 504, 404].map(match)).toEqual([true, true, true, false, false]);
  });
});

describe("runWithPolicy", () => {
  const policyOf = (targets: object, policies: object) => new Resiliency([parseResiliency("r", spec(policies, { apps: targets }), "f")]);

  test("retries a thrown error up to maxRetries, then throws it", async () => {
    const r = policyOf({ a: { retry: "q" } }, { retries: { q: { duration: "1ms", maxRetries: 2 } } });
    let calls = 0;
    await expect(r.run({ app: "a" }, async () => {
      calls++;
      throw new Error("down");
    }, noSleep)).rejects.toThrow("down");
    expect(calls).toBe(3);
  });

  test("a failed result is retried and, when retries run out, returned as is", async () => {
    const r = policyOf({ a: { retry: "q" } }, { retries: { q: { duration: "1ms", maxRetries: 1 } } });
    let calls = 0;
    const out = await r.run({ app: "a" }, async () => ({ status: 500, n: ++calls }), { ...noSleep, failedResult: (x) => x.status >= 500 });
    expect(out).toEqual({ status: 500, n: 2 });
  });

  test("permanent errors are not retried", async () => {
    const r = policyOf({ a: { retry: "q" } }, { retries: { q: { duration: "1ms", maxRetries: 5 } } });
    let calls = 0;
    await expect(r.run({ app: "a" }, async () => {
      calls++;
      throw new TypeError("bad input");
    }, { ...noSleep, permanent: (e) => e instanceof TypeError })).rejects.toThrow("bad input");
    expect(calls).toBe(1);
  });

  test("the timeout applies per attempt and aborts the attempt's signal", async () => {
    const r = policyOf({ a: { timeout: "20ms" } }, {});
    let aborted = false;
    await expect(r.run({ app: "a" }, (signal) => new Promise((_, reject) => signal!.addEventListener("abort", () => {
      aborted = true;
      reject(new Error("aborted"));
    })))).rejects.toBeInstanceOf(PolicyTimeoutError);
    expect(aborted).toBe(true);
  });

  test("without a policy, fn runs once as is", async () => {
    let calls = 0;
    await expect(runWithPolicy(undefined, undefined, "x", async () => ++calls)).resolves.toBe(1);
  });

  test("each target has its own breaker; targets without a policy pass", async () => {
    const r = policyOf({ a: { circuitBreaker: "cb" } }, { circuitBreakers: { cb: { trip: "consecutiveFailures >= 2", timeout: "1h" } } });
    const fail = () => r.run({ app: "a" }, async () => {
      throw new Error("x");
    });
    await expect(fail()).rejects.toThrow("x");
    await expect(fail()).rejects.toThrow("x");
    await expect(fail()).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(r.run({ app: "b" }, async () => "ok")).resolves.toBe("ok");
  });

  test("a caller who leaves during a backoff ends it at once with the last outcome, and no attempt follows", async () => {
    const r = policyOf({ a: { retry: "slow", circuitBreaker: "cb" } }, {
      retries: { slow: { duration: "30s", maxRetries: 5 } },
      circuitBreakers: { cb: { trip: "consecutiveFailures > 10", timeout: "30s" } },
    });
    const stop = new AbortController();
    let calls = 0;
    const started = performance.now();
    const run = r.run({ app: "a" }, async () => {
      calls++;
      setTimeout(() => stop.abort(), 20);
      throw new Error(`down ${calls}`);
    }, { stop: stop.signal });
    await expect(run).rejects.toThrow("down 1");
    expect(calls).toBe(1);
    expect(performance.now() - started).toBeLessThan(10_000); // far below the 30 s backoff
  });

  test("a caller who already left starts no retry, but the attempt running when it left finishes", async () => {
    const r = policyOf({ a: { retry: "q" } }, { retries: { q: { duration: "1ms", maxRetries: 3 } } });
    const stop = new AbortController();
    let calls = 0;
    const out = await r.run({ app: "a" }, async () => {
      calls++;
      stop.abort();
      await Bun.sleep(5);
      return { status: 503 };
    }, { ...noSleep, stop: stop.signal, failedResult: (x) => x.status >= 500 });
    expect(out.status).toBe(503);
    expect(calls).toBe(1);
  });
});

describe("circuit breaker states", () => {
  test("closed → open on trip, half-open after timeout, closed after maxRequests successes, open again on a failure", () => {
    let now = 0;
    const b = new CircuitBreaker({ name: "cb", maxRequests: 2, intervalMs: 0, timeoutMs: 1000, trip: compileTrip("consecutiveFailures > 1"), tripText: "" }, "app a", () => now);
    const call = (ok: boolean) => {
      b.before();
      b.after(ok);
    };
    call(false);
    expect(b.currentState).toBe("closed");
    call(false);
    expect(b.currentState).toBe("open");
    expect(() => b.before()).toThrow(CircuitOpenError);
    now = 1000;
    expect(b.currentState).toBe("half-open");
    call(true);
    expect(b.currentState).toBe("half-open");
    call(true);
    expect(b.currentState).toBe("closed");
    call(false);
    call(false);
    now = 2500;
    expect(b.currentState).toBe("half-open");
    call(false);
    expect(b.currentState).toBe("open");
  });

  test("half-open lets at most maxRequests calls through at once", () => {
    let now = 0;
    const b = new CircuitBreaker({ name: "cb", maxRequests: 1, intervalMs: 0, timeoutMs: 10, trip: compileTrip("consecutiveFailures > 0"), tripText: "" }, "app a", () => now);
    b.before();
    b.after(false);
    now = 10;
    b.before();
    expect(() => b.before()).toThrow(CircuitOpenError);
  });

  test("counts reset every interval while closed", () => {
    let now = 0;
    const b = new CircuitBreaker({ name: "cb", maxRequests: 1, intervalMs: 100, timeoutMs: 10, trip: compileTrip("totalFailures > 1"), tripText: "" }, "app a", () => now);
    b.before();
    b.after(false);
    now = 150;
    b.before();
    b.after(false);
    expect(b.currentState).toBe("closed");
  });
});

describe("what the circuit breaker counts", () => {
  const withBreaker = () => new Resiliency([parseResiliency("r", spec(
    { circuitBreakers: { cb: { trip: "consecutiveFailures >= 2", timeout: "30s", maxRequests: 1 } } },
    { apps: { a: { circuitBreaker: "cb" } } },
  ), "f")]);

  test("permanent errors (bad input, a caller who left) never open it; the target's own failures do", async () => {
    const r = withBreaker();
    const refused = () => r.run({ app: "a" }, async () => { throw new Error("bad request"); }, { permanent: () => true });
    for (let i = 0; i < 5; i++) await expect(refused()).rejects.toThrow("bad request");
    expect(await r.run({ app: "a" }, async () => "ok")).toBe("ok");
    const down = () => r.run({ app: "a" }, async () => { throw new Error("down"); });
    await expect(down()).rejects.toThrow("down");
    await expect(down()).rejects.toThrow("down");
    await expect(down()).rejects.toBeInstanceOf(CircuitOpenError);
  });

  test("a permanent error during half-open frees the trial slot", () => {
    let now = 0;
    const b = new CircuitBreaker({ name: "cb", maxRequests: 1, timeoutMs: 10, intervalMs: 0, trip: (c) => c.consecutiveFailures >= 1, tripText: "consecutiveFailures >= 1" }, "app a", () => now);
    b.before();
    b.after(false);
    now = 20;
    expect(b.currentState).toBe("half-open");
    b.before();
    b.release();
    b.before(); // the slot is free again
    b.after(true);
    expect(b.currentState).toBe("closed");
  });

  test("a call that began before the counts started afresh neither counts nor frees a half-open slot it never held", () => {
    let now = 0;
    const b = new CircuitBreaker({ name: "cb", maxRequests: 1, timeoutMs: 10, intervalMs: 0, trip: (c) => c.consecutiveFailures >= 1, tripText: "consecutiveFailures >= 1" }, "app a", () => now);
    const early = b.before(); // call A, while closed
    b.after(false, b.before()); // call B fails: open
    now = 20;
    const trial = b.before(); // call C: the half-open trial
    b.release(early); // A ends (its caller left): must not free C's slot
    expect(() => b.before()).toThrow(CircuitOpenError);
    b.after(false, early); // nor count as a failure of the new generation
    expect(b.currentState).toBe("half-open");
    b.after(true, trial);
    expect(b.currentState).toBe("closed");
  });

  test("a stop that fired before the first attempt tries nothing", async () => {
    const r = new Resiliency([parseResiliency("r", spec({ retries: { q: { duration: "1ms", maxRetries: 3 } } }, { apps: { a: { retry: "q" } } }), "f")]);
    let calls = 0;
    const stop = AbortSignal.abort();
    await expect(r.run({ app: "a" }, async () => void calls++, { stop })).rejects.toBeInstanceOf(CallerLeftError);
    expect(calls).toBe(0);
  });
});
