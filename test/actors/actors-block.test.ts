// The actors block end to end in one process: a fake app serving the SDK's actor endpoints, state on state.sqlite,
// time from a fake clock.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import stateSqlite from "../../plugins/state.sqlite/index.js";
import type { StateStore } from "../../src/components/contracts/state.js";
import { parseMetadata } from "../../src/components/metadata-schema.js";
import { DaprError } from "../../src/errors.js";
import { silentLogger } from "../../src/observability/logger.js";
import { ActorsBlock } from "../../src/blocks/actors/actors-block.js";
import { ActorAppClient } from "../../src/blocks/actors/app-client.js";
import { OwnerUnreachableError, type ActorForwarder } from "../../src/blocks/actors/forwarder.js";
import { MemoryHosts } from "../../src/blocks/actors/placement/memory-hosts.js";
import { FakeActorApp } from "./fake-actor-app.js";
import { FakeClock, settle } from "../support/fake-clock.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-actors-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openStore(dir: string): Promise<StateStore> {
  const store = (await stateSqlite.create(parseMetadata(stateSqlite.metadata, { connectionString: "actors.db" }), {
    name: "statestore", appId: "app", dataDir: dir, logger: silentLogger,
  })) as StateStore;
  cleanups.push(() => store.close());
  return store;
}

interface Node {
  block: ActorsBlock;
  app: FakeActorApp;
}

async function startNode(opts: { store?: StateStore; clock: FakeClock; hosts?: MemoryHosts; self?: string; forwarder?: ActorForwarder; announce?: boolean }): Promise<Node> {
  const self = opts.self ?? "node-a";
  const hosts = opts.hosts ?? new MemoryHosts();
  const app = new FakeActorApp();
  const block = new ActorsBlock({
    appId: "app",
    self,
    hosts,
    app: new ActorAppClient(app),
    stateStore: () => (opts.store ? { name: "statestore", store: opts.store } : undefined),
    forwarder: opts.forwarder,
    announce: opts.announce === false ? undefined : (types) => hosts.upsert({ id: self, address: `${self}:50002`, actorTypes: Object.fromEntries(types.map((t) => [t, 0])) }),
    clock: opts.clock,
  });
  app.block = block;
  await block.start();
  cleanups.push(() => block.stop());
  return { block, app };
}

const call = (block: ActorsBlock, id: string, method: string, extra: { verb?: string; body?: string; reentrancyId?: string } = {}) =>
  block.invoke({ actorType: "Counter", actorId: id, method, verb: extra.verb ?? "POST", headers: {}, body: enc.encode(extra.body ?? ""), reentrancyId: extra.reentrancyId });

const text = (res: { body: Uint8Array }) => dec.decode(res.body);

async function daprError(p: Promise<unknown> | (() => unknown)): Promise<DaprError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(DaprError);
    return err as DaprError;
  }
  throw new Error("expected a DaprError");
}

test("a method call reaches the app as PUT on the SDK's path and its answer comes back", async () => {
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  const res = await call(block, "c 1", "echo", { verb: "POST", body: "hello" });
  expect(res.status).toBe(200);
  expect(text(res)).toBe("hello");
  const req = app.requests.find((r) => r.path.includes("/method/echo"))!;
  expect(req.method).toBe("PUT");
  expect(req.path).toBe("actors/Counter/c%201/method/echo");
  expect(block.runtimeStatus()).toEqual({ runtimeStatus: "RUNNING", activeActors: [{ type: "Counter", count: 1 }], hostReady: true, placement: "placement: connected" });
});

test("an app failure is ERR_ACTOR_INVOKE_METHOD; an unknown type has no address", async () => {
  const { block } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  expect((await daprError(call(block, "c1", "fail"))).errorCode).toBe("ERR_ACTOR_INVOKE_METHOD");
  const err = await daprError(block.invoke({ actorType: "Nope", actorId: "x", method: "m", verb: "PUT", headers: {}, body: new Uint8Array() }));
  expect(err.errorCode).toBe("ERR_ACTOR_NO_ADDRESS");
});

test("state: written through transactions in daprd's key layout, read from the cache or the store, 204-like when missing", async () => {
  const store = await openStore(tempDir());
  const { block } = await startNode({ store, clock: new FakeClock() });
  expect(text(await call(block, "c1", "increment"))).toBe("1");
  expect(dec.decode((await store.get("app||Counter||c1||count"))!.value)).toBe("1");
  expect(dec.decode((await block.getState("Counter", "c1", "count"))!.data)).toBe("1");
  expect(await block.getState("Counter", "c1", "missing")).toBeUndefined();
  expect(await block.getState("Counter", "never-active", "count")).toBeUndefined();
  // A transaction needs the actor active here, as in daprd.
  const missing = await daprError(block.transaction("Counter", "idle", [{ operation: "upsert", key: "k", value: enc.encode("1") }]));
  expect(missing.errorCode).toBe("ERR_ACTOR_INSTANCE_MISSING");
});

test("state TTL: an upsert with metadata.ttlInSeconds reports its expiry", async () => {
  const store = await openStore(tempDir());
  const { block } = await startNode({ store, clock: new FakeClock() });
  await call(block, "c1", "get");
  await block.transaction("Counter", "c1", [{ operation: "upsert", key: "t", value: enc.encode('"v"'), metadata: { ttlInSeconds: "100" } }]);
  const got = (await block.getState("Counter", "c1", "t"))!;
  expect(dec.decode(got.data)).toBe('"v"');
  expect(Date.parse(got.metadata.ttlExpireTime!)).toBeGreaterThan(Date.now());
  const bad = await daprError(block.transaction("Counter", "c1", [{ operation: "upsert", key: "t", value: enc.encode("1"), metadata: { ttlInSeconds: "soon" } }]));
  expect(bad.httpStatus).toBe(400);
});

test("a transaction with one bad operation saves nothing", async () => {
  const store = await openStore(tempDir());
  const { block } = await startNode({ store, clock: new FakeClock() });
  await call(block, "c1", "get");
  const ops = [
    { operation: "upsert" as const, key: "a", value: enc.encode("1") },
    { operation: "merge" as never, key: "b", value: enc.encode("2") },
  ];
  expect((await daprError(block.transaction("Counter", "c1", ops))).errorCode).toBe("ERR_MALFORMED_REQUEST");
  const stale = [
    { operation: "upsert" as const, key: "a", value: enc.encode("1") },
    { operation: "delete" as const, key: "b", etag: "not-the-etag" },
  ];
  expect((await daprError(block.transaction("Counter", "c1", stale))).errorCode).toBe("ERR_ACTOR_STATE_TRANSACTION_SAVE");
  expect(await store.get("app||Counter||c1||a")).toBeUndefined();
  expect(await block.getState("Counter", "c1", "a")).toBeUndefined();
});

test("50 concurrent read-modify-write calls on one actor end at exactly 50", async () => {
  const store = await openStore(tempDir());
  const { block } = await startNode({ store, clock: new FakeClock() });
  const results = await Promise.all(Array.from({ length: 50 }, () => call(block, "hot", "increment")));
  expect(results.map(text).map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(dec.decode((await store.get("app||Counter||hot||count"))!.value)).toBe("50");
});

test("reentrancy: a nested call with the turn's Dapr-Reentrancy-Id enters at once; the app receives the header", async () => {
  const { block } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  const res = JSON.parse(text(await call(block, "c1", "reenter")));
  expect(res.inner).toBe(0);
  expect(typeof res.reentrancyId).toBe("string");
  expect(res.reentrancyId.length).toBeGreaterThan(0);
});

test("idle actors are deactivated on the scan interval (the app hears DELETE) and their timers stop", async () => {
  const clock = new FakeClock();
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock });
  await call(block, "c1", "startTimer");
  await clock.advance(1000);
  await until(() => app.fired.length >= 1);
  expect(app.fired[0]).toEqual({ kind: "timer", actor: "Counter/c1", name: "tick", body: { callback: "onTick", data: { n: 1 }, dueTime: "1s", period: "1s" } });
  await block.unregisterTimer("Counter", "c1", "tick");
  const firedBefore = app.fired.length;
  await clock.advance(70_000);
  await until(() => app.deactivated.length === 1);
  expect(app.deactivated).toEqual(["Counter/c1"]);
  expect(app.fired.length).toBe(firedBefore);
  expect(block.runtimeStatus().activeActors).toEqual([{ type: "Counter", count: 0 }]);
});

test("a deactivation cancels the actor's timers", async () => {
  const clock = new FakeClock();
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock });
  await call(block, "c1", "startTimer");
  await block.stop();
  expect(app.deactivated).toEqual(["Counter/c1"]);
  const fired = app.fired.length;
  await clock.advance(5000);
  expect(app.fired.length).toBe(fired);
});

test("timers need an active actor and well-formed times", async () => {
  const { block } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  const inactive = await daprError(block.registerTimer({ actorType: "Counter", actorId: "zzz", name: "t", dueTime: "1s" }));
  expect(inactive.errorCode).toBe("ERR_ACTOR_INSTANCE_MISSING");
  await call(block, "c1", "get");
  const bad = await daprError(block.registerTimer({ actorType: "Counter", actorId: "c1", name: "t", dueTime: "soon" }));
  expect(bad.errorCode).toBe("ERR_ACTOR_TIMER_CREATE");
  expect(bad.httpStatus).toBe(400);
  expect(bad.message).toContain("dueTime");
});

test("reminders: fire with daprd's body, are listed and read back, and unregister singly and by type", async () => {
  const clock = new FakeClock();
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock });
  await block.registerReminder({ actorType: "Counter", actorId: "r1", name: "ping", dueTime: "2s", period: "PT5S", data: '{"x":[1,2]}' });
  await block.registerReminder({ actorType: "Counter", actorId: "r2", name: "pong", dueTime: "1h" });
  const got = await block.getReminder("Counter", "r1", "ping");
  expect(got).toEqual({ name: "ping", actorType: "Counter", actorId: "r1", dueTime: "2s", period: "PT5S", data: '{"x":[1,2]}' });
  expect((await block.listReminders("Counter")).map((r) => `${r.actorId}/${r.name}`)).toEqual(["r1/ping", "r2/pong"]);
  expect((await block.listReminders("Counter", "r2")).map((r) => r.name)).toEqual(["pong"]);

  await clock.advance(2000);
  await until(() => app.fired.length === 1);
  expect(app.fired[0]).toEqual({ kind: "remind", actor: "Counter/r1", name: "ping", body: { data: { x: [1, 2] }, dueTime: "2s", period: "PT5S" } });
  await clock.advance(5000);
  await until(() => app.fired.length === 2);

  await block.unregisterReminder("Counter", "r1", "ping");
  await clock.advance(10_000);
  await settle();
  expect(app.fired.length).toBe(2);
  expect((await daprError(block.getReminder("Counter", "r1", "ping"))).errorCode).toBe("ERR_ACTOR_REMINDER_NOT_FOUND");
  expect(await block.unregisterRemindersByType("Counter")).toBe(1);
  expect(await block.listReminders("Counter")).toEqual([]);
});

test("a reminder whose callback answers X-DaprReminderCancel is cancelled", async () => {
  const clock = new FakeClock();
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock });
  app.cancelReminders = true;
  await block.registerReminder({ actorType: "Counter", actorId: "r1", name: "once", dueTime: "1s", period: "1s" });
  await clock.advance(1000);
  await until(() => app.fired.length === 1);
  await until(async () => (await block.listReminders("Counter")).length === 0);
  await clock.advance(5000);
  expect(app.fired.length).toBe(1);
});

test("a reminder survives a restart: a new block over the same sqlite file fires it", async () => {
  const dir = tempDir();
  const clock = new FakeClock();
  const first = await startNode({ store: await openStore(dir), clock });
  await first.block.registerReminder({ actorType: "Counter", actorId: "d1", name: "later", dueTime: "30s" });
  await first.block.stop();
  const second = await startNode({ store: await openStore(dir), clock });
  await clock.advance(30_000);
  await until(() => second.app.fired.length === 1);
  expect(second.app.fired[0]!.name).toBe("later");
  expect(first.app.fired).toEqual([]);
});

test("bad input: malformed times, non-hosted types, reserved types, huge ids, no actor state store", async () => {
  const { block } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  const reminder = { actorType: "Counter", actorId: "a", name: "r" };
  expect((await daprError(block.registerReminder({ ...reminder, dueTime: "tomorrow" }))).errorCode).toBe("ERR_ACTOR_REMINDER_CREATE");
  expect((await daprError(block.registerReminder({ ...reminder, period: "P1D" }))).httpStatus).toBe(400);
  expect((await daprError(block.registerReminder({ ...reminder, dueTime: "1s", data: "{not json" }))).errorCode).toBe("ERR_MALFORMED_REQUEST");
  expect((await daprError(block.registerReminder({ ...reminder, actorType: "Other", dueTime: "1s" }))).errorCode).toBe("ERR_ACTOR_REMINDER_NON_HOSTED");
  expect((await daprError(() => block.getState("dapr.internal.default.app.workflow", "a", "k"))).errorCode).toBe("ERR_ACTOR_TYPE_RESERVED");
  expect((await daprError(() => call(block, "x".repeat(5000), "get"))).errorCode).toBe("ERR_BAD_REQUEST");
  expect((await daprError(() => call(block, "a/b", "get"))).errorCode).toBe("ERR_BAD_REQUEST");
  expect((await daprError(() => call(block, "a", "../x"))).errorCode).toBe("ERR_BAD_REQUEST");
  expect(await block.listReminders("Counter")).toEqual([]);

  const bare = await startNode({ clock: new FakeClock(), self: "bare" });
  expect((await daprError(bare.block.getState("Counter", "a", "k"))).errorCode).toBe("ERR_ACTOR_RUNTIME_NOT_FOUND");
  expect((await daprError(bare.block.registerReminder({ ...reminder, dueTime: "1s" }))).errorCode).toBe("ERR_ACTOR_RUNTIME_NOT_FOUND");
});

test("a full actor queue is ERR_ACTOR_QUEUE_FULL and the waiting calls still complete", async () => {
  const { block, app } = await startNode({ store: await openStore(tempDir()), clock: new FakeClock() });
  app.hold();
  const running = call(block, "q", "hold");
  await until(() => app.requests.some((r) => r.path.endsWith("/hold")));
  const waiting = Array.from({ length: 10_000 }, () => call(block, "q", "get"));
  const full = await daprError(call(block, "q", "get"));
  expect(full.errorCode).toBe("ERR_ACTOR_QUEUE_FULL");
  expect(full.httpStatus).toBe(429);
  app.release();
  expect(text(await running)).toBe('"held"');
  expect((await Promise.all(waiting)).length).toBe(10_000);
});

test("calls for an actor placed on another node are forwarded to it, reminders registered there", async () => {
  const clock = new FakeClock();
  const hosts = new MemoryHosts();
  const nodes = new Map<string, Node>();
  const forwarder: ActorForwarder = { forward: (loc, c, signal) => nodes.get(loc.host)!.block.receive(c, signal) };
  const store = await openStore(tempDir());
  nodes.set("node-a", await startNode({ store, clock, hosts, self: "node-a", forwarder }));
  nodes.set("node-b", await startNode({ store, clock, hosts, self: "node-b", forwarder }));
  const a = nodes.get("node-a")!;
  const b = nodes.get("node-b")!;
  // An id each node owns.
  const idOn = (host: string) => Array.from({ length: 200 }, (_, i) => `id${i}`).find((id) => placementOf(a.block, id) === host)!;
  const remote = idOn("node-b");
  expect(text(await call(a.block, remote, "increment"))).toBe("1");
  expect(b.app.requests.some((r) => r.path.includes(`/${remote}/method/increment`))).toBe(true);
  expect(a.app.requests.some((r) => r.path.includes("/method/"))).toBe(false);

  await a.block.registerReminder({ actorType: "Counter", actorId: remote, name: "fwd", dueTime: "1s" });
  await clock.advance(1000);
  await until(() => b.app.fired.length === 1);
  expect(a.app.fired).toEqual([]);
});

test("a forward to an owner that died goes to the new owner once the re-read view has dropped it; one still listed fails", async () => {
  const clock = new FakeClock();
  const hosts = new MemoryHosts();
  const nodes = new Map<string, Node>();
  let dropDead = true;
  const forwarder: ActorForwarder = {
    forward: async (loc, c, signal) => {
      if (loc.host !== "node-c") return nodes.get(loc.host)!.block.receive(c, signal);
      if (dropDead) hosts.remove("node-c"); // what the registry's re-read does for a dead process
      throw new OwnerUnreachableError("node-c", "cannot connect");
    },
  };
  const store = await openStore(tempDir());
  nodes.set("node-a", await startNode({ store, clock, hosts, self: "node-a", forwarder }));
  nodes.set("node-b", await startNode({ store, clock, hosts, self: "node-b", forwarder }));
  hosts.upsert({ id: "node-c", address: "node-c:50002", actorTypes: { Counter: 0 } });
  const a = nodes.get("node-a")!;
  const ids = Array.from({ length: 300 }, (_, i) => `id${i}`);
  const onC = ids.filter((id) => placementOf(a.block, id) === "node-c");
  expect(onC.length).toBeGreaterThan(1);

  dropDead = false;
  expect((await daprError(call(a.block, onC[0]!, "increment"))).errorCode).toBe("ERR_DIRECT_INVOKE");
  dropDead = true;
  expect(text(await call(a.block, onC[1]!, "increment"))).toBe("1");
  expect(placementOf(a.block, onC[1]!)).not.toBe("node-c");
});

test("fencing: after another node claims the actor, the stale activation's write is refused whole", async () => {
  const clock = new FakeClock();
  const store = await openStore(tempDir());
  // Two nodes that each see only themselves: both believe they own every actor (the failure-detection window).
  const a = await startNode({ store, clock, self: "node-a" });
  const b = await startNode({ store, clock, self: "node-b" });
  expect(text(await call(a.block, "f", "increment"))).toBe("1");
  expect(text(await call(b.block, "f", "increment"))).toBe("2");
  const stale = await daprError(a.block.transaction("Counter", "f", [{ operation: "upsert", key: "count", value: enc.encode("99") }]));
  expect(stale.errorCode).toBe("ERR_ACTOR_STATE_TRANSACTION_SAVE");
  expect(stale.message).toContain("activated on another node");
  expect(dec.decode((await store.get("app||Counter||f||count"))!.value)).toBe("2");
  // The stale activation is drained: the app heard DELETE.
  await until(() => a.app.deactivated.length === 1);
});

function placementOf(block: ActorsBlock, id: string): string | undefined {
  return (block as unknown as { placement: { locate(t: string, i: string): { host: string } | undefined } }).placement.locate("Counter", id)?.host;
}

/** Polls a condition for at most 5 s (real time: the store and promise chains run outside the fake clock). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await Bun.sleep(10);
  }
  throw new Error("condition not reached within 5 s");
}
