// The timer engine on a fake clock: every assertion is about which fires happened, never about how long they took.
import { afterEach, describe, expect, test } from "bun:test";
import { FakeClock, settle } from "../support/fake-clock.js";
import { TimerEngine, type EngineOptions, type TimerEntry } from "../../src/scheduler/engine.js";
import { MemoryTimerStore, type TimerStore } from "../../src/scheduler/store.js";

const S = 1000;
const every = (ms: number) => ({ every: { months: 0, days: 0, ms } });

interface Harness {
  clock: FakeClock;
  store: TimerStore;
  engine: TimerEngine<string>;
  fired: { key: string; at: number; dueAt: number; data?: string }[];
}

const open: TimerEngine<any>[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

async function harness(opts: Partial<EngineOptions<string>> & { clock?: FakeClock; store?: TimerStore } = {}): Promise<Harness> {
  const clock = opts.clock ?? new FakeClock();
  const store = opts.store ?? new MemoryTimerStore();
  const fired: Harness["fired"] = [];
  const engine = new TimerEngine<string>({
    clock,
    store,
    fire: async (e) => {
      fired.push({ key: e.key, at: clock.now(), dueAt: e.dueAt, data: e.data });
    },
    ...opts,
  });
  open.push(engine);
  await engine.start();
  return { clock, store, engine, fired };
}

async function stored(store: TimerStore, key: string) {
  return store.get(key);
}

describe("firing", () => {
  test("a one-shot fires once at its due time with its data, then is gone from the engine and the store", async () => {
    const h = await harness();
    const t0 = h.clock.now();
    await h.engine.schedule("a", { dueAt: t0 + 5 * S, data: "hello" });
    await h.clock.advance(5 * S - 1);
    expect(h.fired).toEqual([]);
    await h.clock.advance(1);
    expect(h.fired).toEqual([{ key: "a", at: t0 + 5 * S, dueAt: t0 + 5 * S, data: "hello" }]);
    await h.clock.advance(60 * S);
    expect(h.fired.length).toBe(1);
    expect(h.engine.get("a")).toBeUndefined();
    expect(await stored(h.store, "a")).toBeUndefined();
  });

  test("a period fires on its cadence; R<n> fires exactly n times", async () => {
    const h = await harness();
    const t0 = h.clock.now();
    await h.engine.schedule("r", { dueAt: t0 + S, schedule: every(10 * S), repeats: 3 });
    await h.engine.schedule("forever", { dueAt: t0 + S, schedule: every(10 * S) });
    await h.clock.advance(100 * S);
    expect(h.fired.filter((f) => f.key === "r").map((f) => f.at - t0)).toEqual([S, 11 * S, 21 * S]);
    expect(h.fired.filter((f) => f.key === "forever").length).toBe(10);
    expect(h.engine.get("r")).toBeUndefined();
    expect(await stored(h.store, "r")).toBeUndefined();
    expect(await stored(h.store, "forever")).toMatchObject({ dueAt: t0 + 101 * S });
  });

  test("ttl: no tick after expiresAt fires, and the entry is removed", async () => {
    const h = await harness();
    const t0 = h.clock.now();
    await h.engine.schedule("t", { dueAt: t0, schedule: every(10 * S), expiresAt: t0 + 25 * S });
    await h.engine.schedule("late", { dueAt: t0 + 30 * S, expiresAt: t0 + 20 * S });
    await h.clock.advance(60 * S);
    expect(h.fired.map((f) => [f.key, f.at - t0])).toEqual([["t", 0], ["t", 10 * S], ["t", 20 * S]]);
    expect(await stored(h.store, "t")).toBeUndefined();
    expect(await stored(h.store, "late")).toBeUndefined();
  });

  test("re-scheduling a key replaces it; cancel removes it", async () => {
    const h = await harness();
    const t0 = h.clock.now();
    await h.engine.schedule("k", { dueAt: t0 + S, data: "old" });
    await h.engine.schedule("k", { dueAt: t0 + 2 * S, data: "new" });
    await h.engine.schedule("gone", { dueAt: t0 + S });
    await h.engine.cancel("gone");
    await h.clock.advance(5 * S);
    expect(h.fired.map((f) => [f.key, f.data, f.at - t0])).toEqual([["k", "new", 2 * S]]);
    expect(await stored(h.store, "gone")).toBeUndefined();
  });

  test("one platform timer, however many entries", async () => {
    const h = await harness();
    const t0 = h.clock.now();
    for (let i = 0; i < 1000; i++) await h.engine.schedule(`k${i}`, { dueAt: t0 + 1000 + ((i * 7919) % 5000) });
    expect(h.clock.pendingTimers).toBe(1);
    await h.clock.advance(10 * S);
    expect(h.fired.length).toBe(1000);
    const lags = h.fired.map((f) => f.at - f.dueAt);
    expect(Math.max(...lags)).toBe(0);
    expect(h.fired.map((f) => f.dueAt)).toEqual([...h.fired.map((f) => f.dueAt)].sort((a, b) => a - b));
  });
});

describe("catch-up", () => {
  test("a node down for many periods fires once on return, then keeps the original cadence", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const t0 = clock.now();
    const first = await harness({ clock, store });
    await first.engine.schedule("p", { dueAt: t0 + 10 * S, schedule: every(10 * S) });
    await clock.advance(10 * S);
    expect(first.fired.length).toBe(1);
    await first.engine.close();

    await clock.advance(95 * S); // down across nine ticks (t0+20s … t0+100s)
    const second = await harness({ clock, store });
    await clock.advance(0);
    expect(second.fired.map((f) => f.at - t0)).toEqual([105 * S]);
    await clock.advance(20 * S);
    expect(second.fired.map((f) => f.at - t0)).toEqual([105 * S, 110 * S, 120 * S]);
  });

  test("a callback slower than its period is followed by one fire, not a burst", async () => {
    const h = await harness({
      fire: async (e) => {
        h.fired.push({ key: e.key, at: h.clock.now(), dueAt: e.dueAt });
        if (h.fired.length === 1) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    let release = () => {};
    const t0 = h.clock.now();
    await h.engine.schedule("slow", { dueAt: t0 + S, schedule: every(S) });
    await h.clock.advance(S);
    await h.clock.advance(10 * S + 500);
    expect(h.fired.length).toBe(1);
    release();
    await h.clock.advance(0);
    await h.clock.advance(S);
    expect(h.fired.map((f) => f.at - t0)).toEqual([S, 12 * S]);
  });

  test("collapsed ticks count as one repetition", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const t0 = clock.now();
    await store.put({ key: "r", dueAt: t0 - 100 * S, schedule: every(S), repeats: 2 });
    const h = await harness({ clock, store });
    await clock.advance(10 * S);
    expect(h.fired.map((f) => f.at - t0)).toEqual([0, S]);
    expect(await store.get("r")).toBeUndefined();
  });
});

describe("durability", () => {
  test("restart continues from the store: next due time and repetitions left", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const t0 = clock.now();
    const first = await harness({ clock, store });
    await first.engine.schedule("r", { dueAt: t0 + 10 * S, schedule: every(10 * S), repeats: 5, data: "d" });
    await clock.advance(20 * S);
    expect(first.fired.length).toBe(2);
    expect(await store.get("r")).toMatchObject({ dueAt: t0 + 30 * S, repeats: 3, data: "d" });
    await first.engine.close();

    const second = await harness({ clock, store });
    expect(second.engine.get("r")).toMatchObject({ dueAt: t0 + 30 * S, repeats: 3 });
    await clock.advance(100 * S);
    expect(second.fired.map((f) => [f.at - t0, f.data])).toEqual([[30 * S, "d"], [40 * S, "d"], [50 * S, "d"]]);
    expect(await store.get("r")).toBeUndefined();
  });

  test("a fire is recorded only after the callback succeeded (a crash mid-fire fires again)", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const t0 = clock.now();
    let release = () => {};
    const first = await harness({
      clock,
      store,
      fire: () => new Promise<void>((resolve) => (release = resolve)),
    });
    await first.engine.schedule("x", { dueAt: t0 + S, schedule: every(10 * S) });
    await clock.advance(S);
    expect(await store.get("x")).toMatchObject({ dueAt: t0 + S }); // still in flight: not recorded

    // The process "crashes": a new engine reads the store and fires the tick again.
    const second = await harness({ clock, store: new MemoryTimerStore() });
    await (second.store as MemoryTimerStore).put((await store.get("x"))!);
    await second.engine.ownershipChanged();
    await clock.advance(0);
    expect(second.fired.map((f) => f.dueAt - t0)).toEqual([S]);

    release();
    await clock.advance(0);
    expect(await store.get("x")).toMatchObject({ dueAt: t0 + 11 * S });
  });

  test("store writes of one key keep their order: a cancel during a fire is not undone by the fire's write", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    let release = () => {};
    const h = await harness({ clock, store, fire: () => new Promise<void>((resolve) => (release = resolve)) });
    await h.engine.schedule("c", { dueAt: clock.now(), schedule: every(S) });
    await clock.advance(0);
    await h.engine.cancel("c");
    release();
    await clock.advance(5 * S);
    expect(await store.get("c")).toBeUndefined();
    expect(h.engine.get("c")).toBeUndefined();
  });
});

describe("failures", () => {
  test("constant policy: retried at its interval up to maxRetries, then the schedule moves on", async () => {
    const attempts: number[] = [];
    const clock = new FakeClock();
    const t0 = clock.now();
    const h = await harness({
      clock,
      fire: async (e) => {
        attempts.push(clock.now() - t0);
        throw new Error(`no ${e.attempts ?? 0}`);
      },
      onError: () => {},
    });
    await h.engine.schedule("f", { dueAt: t0, schedule: every(60 * S), failurePolicy: { constant: { intervalMs: 2 * S, maxRetries: 2 } } });
    await clock.advance(59 * S);
    expect(attempts).toEqual([0, 2 * S, 4 * S]);
    expect(await h.store.get("f")).toMatchObject({ dueAt: t0 + 60 * S });
    expect((await h.store.get("f"))!.attempts).toBeUndefined();
  });

  test("a retry succeeding clears the attempts; drop policy never retries", async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const calls: string[] = [];
    const h = await harness({
      clock,
      fire: async (e) => {
        calls.push(`${e.key}@${(clock.now() - t0) / S}`);
        if (e.key === "drop" || (e.attempts ?? 0) < 1) throw new Error("fail");
      },
      onError: () => {},
    });
    await h.engine.schedule("retry", { dueAt: t0 });
    await h.engine.schedule("drop", { dueAt: t0, failurePolicy: { drop: true } });
    await clock.advance(10 * S);
    expect(calls.sort()).toEqual(["drop@0", "retry@0", "retry@1"]);
    expect(h.engine.size).toBe(0);
  });

  test("errors reach onError; the engine carries on", async () => {
    const errors: string[] = [];
    const h = await harness({
      fire: async () => {
        throw new Error("boom");
      },
      failurePolicy: { drop: true },
      onError: (err, ctx) => errors.push(`${ctx.op}:${ctx.key}:${(err as Error).message}`),
    });
    await h.engine.schedule("e", { dueAt: h.clock.now() });
    await h.clock.advance(0);
    expect(errors).toEqual(["fire:e:boom"]);
  });
});

describe("concurrency", () => {
  test("at most maxInFlight callbacks run at once; the rest wait their turn", async () => {
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const h = await harness({
      maxInFlight: 3,
      fire: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
      },
    });
    for (let i = 0; i < 10; i++) await h.engine.schedule(`k${i}`, { dueAt: h.clock.now() });
    await h.clock.advance(0);
    expect(running).toBe(3);
    for (let round = 0; round < 10 && releases.length; round++) {
      releases.splice(0).forEach((r) => r());
      await h.clock.advance(0);
    }
    expect(peak).toBe(3);
    expect(h.engine.size).toBe(0);
  });

  test("a key never fires twice at once: a replacement due while the old fire runs waits for it", async () => {
    const h = await harness();
    let release = () => {};
    let concurrent = 0;
    let peak = 0;
    const engine = new TimerEngine<string>({
      clock: h.clock,
      fire: async () => {
        concurrent++;
        peak = Math.max(peak, concurrent);
        await new Promise<void>((resolve) => (release = resolve));
        concurrent--;
      },
    });
    open.push(engine);
    await engine.start();
    await engine.schedule("k", { dueAt: h.clock.now() });
    await h.clock.advance(0);
    await engine.schedule("k", { dueAt: h.clock.now() });
    await h.clock.advance(S);
    expect(peak).toBe(1);
    release();
    await h.clock.advance(0);
    release();
    await h.clock.advance(0);
    expect(peak).toBe(1);
    expect(engine.size).toBe(0);
  });
});

describe("ownership", () => {
  test("a node fires only what it owns and takes over when ownership changes", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const owner = new Map<string, "A" | "B">([["x", "A"], ["y", "B"]]);
    const a = await harness({ clock, store, owns: (k) => owner.get(k) === "A" });
    const b = await harness({ clock, store, owns: (k) => owner.get(k) === "B" });
    const t0 = clock.now();
    await a.engine.schedule("x", { dueAt: t0 + S, schedule: every(10 * S) });
    await a.engine.schedule("y", { dueAt: t0 + S, schedule: every(10 * S) }); // persisted only: B owns y
    await b.engine.ownershipChanged();
    await clock.advance(S);
    expect(a.fired.map((f) => f.key)).toEqual(["x"]);
    expect(b.fired.map((f) => f.key)).toEqual(["y"]);
    expect(a.engine.list().map((e) => e.key)).toEqual(["x"]);

    // A "fails": B now owns everything.
    owner.set("x", "B");
    await a.engine.ownershipChanged();
    await b.engine.ownershipChanged();
    expect(a.engine.size).toBe(0);
    expect(b.engine.get("x")).toMatchObject({ dueAt: t0 + 11 * S });
    await clock.advance(10 * S);
    expect(a.fired.map((f) => f.key)).toEqual(["x"]);
    expect(b.fired.map((f) => `${f.key}@${(f.at - t0) / S}`).sort()).toEqual(["x@11", "y@1", "y@11"]);
  });
});

describe("cancel by prefix", () => {
  test("removes matching entries held here and those held by other nodes, nothing else", async () => {
    const clock = new FakeClock();
    const store = new MemoryTimerStore();
    const a = await harness({ clock, store, owns: (k) => k.includes("||1||") });
    const t0 = clock.now();
    for (const key of ["actor||T||1||r", "actor||T||2||r", "actor||U||1||r", "actor||T||1||s"]) {
      await a.engine.schedule(key, { dueAt: t0 + S });
    }
    const removed = await a.engine.cancelPrefix("actor||T||");
    expect(removed).toBe(3);
    const left: TimerEntry[] = [];
    for await (const page of store.list("")) left.push(...page);
    expect(left.map((e) => e.key)).toEqual(["actor||U||1||r"]);
    await clock.advance(2 * S);
    expect(a.fired.map((f) => f.key)).toEqual(["actor||U||1||r"]);
  });
});

test("settle lets chained writes finish (harness sanity)", async () => {
  await settle();
});
