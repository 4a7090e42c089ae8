import { afterEach, describe, expect, test } from "bun:test";
import { ActorTable, type ActorHooks, type TurnContext } from "../../src/blocks/actors/activation-table.js";
import { DEFAULT_ACTOR_TYPE_CONFIG, type ActorTypeConfig } from "../../src/blocks/actors/config.js";
import {
  ActorActivationError,
  ActorClosedError,
  ActorMovedError,
  ActorQueueFullError,
  ActorTypeNotHostedError,
  toDaprError,
} from "../../src/blocks/actors/errors.js";
import { HashPlacement } from "../../src/blocks/actors/placement/hash-placement.js";
import { MemoryHosts } from "../../src/blocks/actors/placement/memory-hosts.js";
import { FakeClock, settle } from "../support/fake-clock.js";

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** App hooks that record the actor's life and check that no actor is ever active twice at once. */
class FakeApp implements ActorHooks {
  events: string[] = [];
  active = new Set<string>();
  doubleActivations = 0;
  activateGate: Promise<void> | undefined;
  deactivateGate: Promise<void> | undefined;
  failActivation: Error | undefined;

  async activate(type: string, id: string) {
    const key = `${type}||${id}`;
    if (this.active.has(key)) this.doubleActivations++;
    this.events.push(`activate ${key}`);
    await this.activateGate;
    if (this.failActivation) throw this.failActivation;
    this.active.add(key);
  }

  async deactivate(type: string, id: string) {
    const key = `${type}||${id}`;
    this.events.push(`deactivate ${key}`);
    await this.deactivateGate;
    this.active.delete(key);
  }
}

const config = (over: Partial<ActorTypeConfig> = {}): ActorTypeConfig => ({
  ...DEFAULT_ACTOR_TYPE_CONFIG,
  idleTimeoutMs: 1_000,
  drainOngoingCallTimeoutMs: 500,
  ...over,
});

const tables: { table: ActorTable; clock: FakeClock }[] = [];
function setup(over: Partial<ActorTypeConfig> = {}, placement?: HashPlacement) {
  const clock = new FakeClock();
  const app = new FakeApp();
  const table = new ActorTable({ clock, hooks: app, typeConfig: (t) => (t === "cart" ? config(over) : undefined), placement });
  tables.push({ table, clock });
  return { clock, app, table };
}
afterEach(async () => {
  for (const { table, clock } of tables.splice(0)) {
    const closed = table.close().catch(() => {});
    await clock.advance(config().drainOngoingCallTimeoutMs);
    await closed;
  }
});

/** Starts a call whose turn runs until `finish` resolves; records when it ran. */
function held(table: ActorTable, id: string, log: string[], name: string, opts = {}) {
  const finish = deferred<string>();
  let ctx: TurnContext | undefined;
  const result = table.call(
    "cart",
    id,
    async (c) => {
      ctx = c;
      log.push(`start ${name}`);
      const v = await finish.promise;
      log.push(`end ${name}`);
      return v;
    },
    opts,
  );
  result.catch(() => {});
  return { result, finish, ctx: () => ctx };
}

describe("activation", () => {
  test("the first call activates the actor once; calls then run one at a time in order", async () => {
    const { app, table } = setup();
    const log: string[] = [];
    const calls = ["a", "b", "c"].map((n) => held(table, "1", log, n));
    await settle();
    expect(app.events).toEqual(["activate cart||1"]);
    expect(log).toEqual(["start a"]);
    for (const c of calls) {
      c.finish.resolve("ok");
      await settle();
    }
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(await Promise.all(calls.map((c) => c.result))).toEqual(["ok", "ok", "ok"]);
    expect(table.isActive("cart", "1")).toBe(true);
    expect(table.counts()).toEqual({ cart: 1 });
  });

  test("a failed activation fails the calls waiting for it; the next call activates afresh", async () => {
    const { app, table } = setup();
    const gate = deferred();
    app.activateGate = gate.promise;
    app.failActivation = new Error("app down");
    const first = table.call("cart", "1", async () => "never").catch((e) => e);
    const second = table.call("cart", "1", async () => "never").catch((e) => e);
    gate.resolve();
    expect(await first).toBeInstanceOf(ActorActivationError);
    expect(await second).toBeInstanceOf(ActorActivationError);
    expect(table.isActive("cart", "1")).toBe(false);
    app.failActivation = undefined;
    expect(await table.call("cart", "1", async () => "fine")).toBe("fine");
    expect(app.events).toEqual(["activate cart||1", "activate cart||1"]);
    expect(toDaprError(new ActorActivationError("cart||1", new Error("x"))).errorCode).toBe("ERR_ACTOR_INVOKE_METHOD");
  });

  test("a type the app does not host is refused", async () => {
    const { table } = setup();
    const err = await table.call("nope", "1", async () => 1).catch((e) => e);
    expect(err).toBeInstanceOf(ActorTypeNotHostedError);
    expect(toDaprError(err).errorCode).toBe("ERR_ACTOR_NO_ADDRESS");
  });

  test("a full queue is refused with ERR_ACTOR_QUEUE_FULL (429)", async () => {
    const { table } = setup({ maxQueue: 1 });
    const log: string[] = [];
    const running = held(table, "1", log, "a");
    const waiting = held(table, "1", log, "b");
    await settle();
    const err = await table.call("cart", "1", async () => 1).catch((e) => e);
    expect(err).toBeInstanceOf(ActorQueueFullError);
    expect(toDaprError(err).httpStatus).toBe(429);
    running.finish.resolve("a");
    waiting.finish.resolve("b");
    expect(await waiting.result).toBe("b");
  });

  test("a turn calling back into its own actor with its reentrancy id enters instead of deadlocking", async () => {
    const { table } = setup({ reentrancy: { enabled: true, maxStackDepth: 4 } });
    const depthReached = await table.call("cart", "1", async (outer) =>
      table.call(
        "cart",
        "1",
        async (inner) =>
          table.call("cart", "1", async (innermost) => innermost.reentrancyId === outer.reentrancyId, { reentrancyId: inner.reentrancyId }),
        { reentrancyId: outer.reentrancyId },
      ),
    );
    expect(depthReached).toBe(true);
  });
});

describe("idle deactivation", () => {
  test("the scanner deactivates actors idle past the timeout, skipping busy ones", async () => {
    const { clock, app, table } = setup();
    const deactivated: string[] = [];
    table.onDeactivated((t, id) => deactivated.push(`${t}||${id}`));
    table.startIdleScanner(100);
    await table.call("cart", "idle", async () => 1);
    const log: string[] = [];
    const busy = held(table, "busy", log, "long");
    await settle();

    await clock.advance(900);
    expect(table.isActive("cart", "idle")).toBe(true);
    await clock.advance(200);
    expect(table.isActive("cart", "idle")).toBe(false);
    expect(table.isActive("cart", "busy")).toBe(true);
    expect(deactivated).toEqual(["cart||idle"]);

    busy.finish.resolve("done");
    await settle();
    await clock.advance(1_100);
    expect(table.isActive("cart", "busy")).toBe(false);
    expect(app.events.filter((e) => e.startsWith("deactivate"))).toEqual(["deactivate cart||idle", "deactivate cart||busy"]);
  });

  test("each call restarts the idle clock", async () => {
    const { clock, table } = setup();
    await table.call("cart", "1", async () => 1);
    await clock.advance(800);
    await table.call("cart", "1", async () => 1);
    await clock.advance(800);
    expect(await table.scanIdle()).toBe(0);
    await clock.advance(200);
    expect(await table.scanIdle()).toBe(1);
  });
});

describe("drain", () => {
  test("lets the running call finish, then deactivates; calls arriving meanwhile wait and re-activate, never twice at once", async () => {
    const { app, table } = setup();
    const log: string[] = [];
    const running = held(table, "1", log, "a");
    const queued = held(table, "1", log, "b");
    await settle();
    const gate = deferred();
    app.deactivateGate = gate.promise;
    const drained = table.drain("cart", "1");
    const late = held(table, "1", log, "c");
    await settle();
    expect(log).toEqual(["start a"]);
    running.finish.resolve("a");
    await settle();
    expect(app.events).toEqual(["activate cart||1", "deactivate cart||1"]);
    expect(log).toEqual(["start a", "end a"]); // the app is still deactivating: nobody runs
    gate.resolve();
    await drained;
    await settle();
    expect(app.events).toEqual(["activate cart||1", "deactivate cart||1", "activate cart||1"]);
    expect(log).toEqual(["start a", "end a", "start b"]);
    queued.finish.resolve("b");
    late.finish.resolve("c");
    expect([await running.result, await queued.result, await late.result]).toEqual(["a", "b", "c"]);
    expect(app.doubleActivations).toBe(0);
  });

  test("a call still running at drainOngoingCallTimeout is cut short with ERR_ACTOR_RUNTIME_CLOSED", async () => {
    const { clock, app, table } = setup({ drainOngoingCallTimeoutMs: 500 });
    const log: string[] = [];
    const stuck = held(table, "1", log, "stuck");
    await settle();
    const drained = table.drain("cart", "1");
    await clock.advance(499);
    expect(table.isActive("cart", "1")).toBe(true);
    await clock.advance(1);
    await drained;
    const err = await stuck.result.catch((e) => e);
    expect(err).toBeInstanceOf(ActorClosedError);
    expect(toDaprError(err).errorCode).toBe("ERR_ACTOR_RUNTIME_CLOSED");
    expect(stuck.ctx()!.signal.aborted).toBe(true);
    expect(app.events).toEqual(["activate cart||1", "deactivate cart||1"]);
    expect(table.isActive("cart", "1")).toBe(false);
  });

  test("a call waiting out a deactivation can still be withdrawn by its signal", async () => {
    const { app, table } = setup();
    await table.call("cart", "1", async () => 1);
    const gate = deferred();
    app.deactivateGate = gate.promise;
    const drained = table.drain("cart", "1");
    const controller = new AbortController();
    const waiting = table.call("cart", "1", async () => 2, { signal: controller.signal }).catch((e) => e);
    await settle();
    controller.abort(new Error("caller gave up"));
    expect(((await waiting) as Error).message).toBe("caller gave up");
    gate.resolve();
    await drained;
    expect(app.events).toEqual(["activate cart||1", "deactivate cart||1"]);
  });

  test("close drains every actor and refuses later calls", async () => {
    const { app, table } = setup();
    await table.call("cart", "1", async () => 1);
    await table.call("cart", "2", async () => 1);
    await table.close();
    expect(app.active.size).toBe(0);
    await expect(table.call("cart", "1", async () => 1)).rejects.toBeInstanceOf(ActorClosedError);
  });
});

describe("placement", () => {
  const hostInfo = (id: string) => ({ id, address: `127.0.0.1:${id.slice(1)}`, actorTypes: { cart: 0 } });

  test("an actor activates only where the view places it, under that view's epoch; elsewhere the answer is 'moved'", async () => {
    const hosts = new MemoryHosts([hostInfo("h1"), hostInfo("h2")]);
    hosts.upsert(hostInfo("h2"));
    const placement = new HashPlacement(hosts, "h1");
    const { table } = setup({}, placement);
    const ids = Array.from({ length: 50 }, (_, i) => `${i}`);
    const mine = ids.find((id) => placement.locate("cart", id)!.host === "h1")!;
    const theirs = ids.find((id) => placement.locate("cart", id)!.host === "h2")!;
    expect(await table.call("cart", mine, async (ctx) => ctx.activationEpoch)).toBe(1);
    const err = await table.call("cart", theirs, async () => 0).catch((e) => e);
    expect(err).toBeInstanceOf(ActorMovedError);
    expect((err as ActorMovedError).owner).toEqual({ host: "h2", address: "127.0.0.1:2", epoch: 1 });
    expect(table.isActive("cart", theirs)).toBe(false);
  });

  test("when its owner moves, the actor drains here and later calls are answered 'moved' (forwarded, not dropped)", async () => {
    const hosts = new MemoryHosts([hostInfo("h1")]);
    const placement = new HashPlacement(hosts, "h1");
    const { app, table } = setup({}, placement);
    const ids = Array.from({ length: 200 }, (_, i) => `${i}`);
    for (const id of ids) await table.call("cart", id, async () => 1);
    hosts.upsert(hostInfo("h2"));
    const moving = ids.filter((id) => placement.locate("cart", id)!.host === "h2");
    const staying = ids.filter((id) => !moving.includes(id));
    expect(moving.length).toBeGreaterThan(0);
    await settle();
    for (const id of moving) expect(table.isActive("cart", id)).toBe(false);
    for (const id of staying) expect(table.isActive("cart", id)).toBe(true);
    expect(app.events.filter((e) => e.startsWith("deactivate")).length).toBe(moving.length);
    const err = await table.call("cart", moving[0], async () => 0).catch((e) => e);
    expect(err).toBeInstanceOf(ActorMovedError);
    expect((err as ActorMovedError).owner!.host).toBe("h2");
  });

  test("a call queued behind a running turn when the owner moves gets 'moved' once the drain is done", async () => {
    const hosts = new MemoryHosts([hostInfo("h1")]);
    const placement = new HashPlacement(hosts, "h1");
    const { table } = setup({}, placement);
    hosts.upsert(hostInfo("h2"));
    const id = Array.from({ length: 100 }, (_, i) => `${i}`).find((i) => placement.locate("cart", i)!.host === "h2")!;
    hosts.remove("h2");
    const log: string[] = [];
    const running = held(table, id, log, "a");
    const queued = held(table, id, log, "b");
    await settle();
    hosts.upsert(hostInfo("h2"));
    await settle();
    expect(table.isActive("cart", id)).toBe(true);
    running.finish.resolve("a");
    expect(await running.result).toBe("a");
    expect(await queued.result.catch((e) => e)).toBeInstanceOf(ActorMovedError);
    expect(log).toEqual(["start a", "end a"]);
    expect(table.isActive("cart", id)).toBe(false);
  });
});
