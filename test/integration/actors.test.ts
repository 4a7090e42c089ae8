// Virtual actors through the compiled binary with the official JS SDK: an HTTP app serving an AbstractActor
// subclass through DaprServer, called by ActorProxyBuilder clients over HTTP and gRPC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AbstractActor, ActorId, ActorProxyBuilder, CommunicationProtocolEnum, DaprClient, DaprServer, Temporal } from "@dapr/dapr";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { quietSdkLogger, sdkClient } from "../support/dapr-sdk.js";

const events: string[] = [];

interface ICounter {
  increment(): Promise<number>;
  count(): Promise<number>;
  echo(payload: unknown): Promise<unknown>;
  startTimer(): Promise<void>;
  startReminder(): Promise<void>;
}

class CounterActor extends AbstractActor implements ICounter {
  async onActivate() { events.push(`activate:${this.getActorId().getId()}`); }
  async onDeactivate() { events.push(`deactivate:${this.getActorId().getId()}`); }
  async increment() {
    const state = this.getStateManager<number>();
    const [, n] = await state.tryGetState("count");
    await state.setState("count", (n ?? 0) + 1);
    return (n ?? 0) + 1;
  }
  async count() {
    return (await this.getStateManager<number>().tryGetState("count"))[1] ?? 0;
  }
  async echo(payload: unknown) { return payload; }
  async startTimer() {
    await this.registerActorTimer("tick", "onTick", Temporal.Duration.from({ milliseconds: 100 }), undefined, undefined, { from: "timer" });
  }
  async onTick(data: unknown) { events.push(`tick:${this.getActorId().getId()}:${JSON.stringify(data)}`); }
  async startReminder() {
    await this.registerActorReminder("nudge", Temporal.Duration.from({ milliseconds: 100 }), undefined, undefined, { from: "reminder" });
  }
  async receiveReminder(data: string) { events.push(`remind:${this.getActorId().getId()}:${JSON.stringify(data)}`); }
}

/** A type no app hosts. */
class NoSuchType extends AbstractActor {
  async foo() {}
}

let sc: Sidecar;
let server: DaprServer;
const clients: DaprClient[] = [];

beforeAll(async () => {
  const appPort = await freePort();
  sc = await startSidecar({ args: ["--app-port", String(appPort)] });
  server = new DaprServer({
    serverHost: "127.0.0.1", serverPort: String(appPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger: quietSdkLogger,
    clientOptions: {
      daprHost: "127.0.0.1", daprPort: String(sc.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger: quietSdkLogger,
      actor: { actorIdleTimeout: "2s", actorScanInterval: "1s" },
    },
  });
  await server.actor.init();
  await server.actor.registerActor(CounterActor);
  await server.start();
  await waitFor(async () => {
    const meta = (await (await sc.http("/v1.0/metadata")).json()) as { actorRuntime?: { runtimeStatus: string; activeActors: { type: string }[] } };
    return meta.actorRuntime?.runtimeStatus === "RUNNING" && meta.actorRuntime.activeActors.some((a) => a.type === "CounterActor");
  }, "the actor runtime to host CounterActor", 20_000);
}, 40_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await server?.stop().catch(() => {});
  await sc?.stop();
});

for (const protocol of [CommunicationProtocolEnum.HTTP, CommunicationProtocolEnum.GRPC]) {
  const name = protocol === CommunicationProtocolEnum.HTTP ? "http" : "grpc";
  describe(`ActorProxyBuilder over ${name}`, () => {
    const proxy = (id: string) => {
      const client = sdkClient(sc, protocol);
      clients.push(client);
      return new ActorProxyBuilder<ICounter>(CounterActor, client).build(new ActorId(`${name}-${id}`));
    };

    test("methods and state through the SDK's state manager", async () => {
      const actor = proxy("basic");
      expect(await actor.increment()).toBe(1);
      expect(await actor.increment()).toBe(2);
      expect(await actor.count()).toBe(2);
      expect(await actor.echo({ hello: "actor" })).toEqual({ hello: "actor" });
      // The sidecar's actor state API sees what the state manager saved.
      const res = await sc.http(`/v1.0/actors/CounterActor/${name}-basic/state/count`);
      expect(res.status).toBe(200);
      expect(await res.json()).toBe(2);
    });

    test("50 concurrent increments end at 50", async () => {
      const actor = proxy("concurrent");
      const results = await Promise.all(Array.from({ length: 50 }, () => actor.increment()));
      expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await actor.count()).toBe(50);
    }, 30_000);

    test("a timer and a reminder fire", async () => {
      const actor = proxy("timers");
      await actor.startTimer();
      await actor.startReminder();
      await waitFor(() => events.some((e) => e.startsWith(`tick:${name}-timers:`)), "the timer to fire", 10_000);
      await waitFor(() => events.some((e) => e.startsWith(`remind:${name}-timers:`)), "the reminder to fire", 10_000);
      expect(events.find((e) => e.startsWith(`tick:${name}-timers:`))).toContain("timer");
    }, 30_000);
  });
}

test("an idle actor is deactivated, and comes back with its state", async () => {
  const client = sdkClient(sc, CommunicationProtocolEnum.HTTP);
  clients.push(client);
  const actor = new ActorProxyBuilder<ICounter>(CounterActor, client).build(new ActorId("idle"));
  expect(await actor.increment()).toBe(1);
  await waitFor(() => events.includes("deactivate:idle"), "the idle actor to be deactivated", 15_000);
  expect(await actor.increment()).toBe(2);
  expect(events.filter((e) => e === "activate:idle").length).toBe(2);
}, 30_000);

describe("bad input", () => {
  test("an unknown actor type: no address, over HTTP and gRPC", async () => {
    const res = await sc.http("/v1.0/actors/NoSuchType/x/method/foo", { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_ACTOR_NO_ADDRESS");
    const client = sdkClient(sc, CommunicationProtocolEnum.GRPC);
    clients.push(client);
    const unknown = new ActorProxyBuilder<NoSuchType>(NoSuchType, client).build(new ActorId("x"));
    await expect(unknown.foo()).rejects.toThrow(/ERR_ACTOR_NO_ADDRESS|did not find address/);
  });

  test("a malformed dueTime is a 400 with daprd's code", async () => {
    const res = await sc.http("/v1.0/actors/CounterActor/bad/reminders/r", { method: "POST", body: JSON.stringify({ dueTime: "soon" }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_ACTOR_REMINDER_CREATE");
    const timer = await sc.http("/v1.0/actors/CounterActor/http-basic/timers/t", { method: "POST", body: JSON.stringify({ dueTime: "soon" }) });
    expect(timer.status).toBe(400);
  });

  test("a malformed transaction body is refused whole", async () => {
    const res = await sc.http("/v1.0/actors/CounterActor/http-basic/state", { method: "POST", body: JSON.stringify([{ operation: "upsert", request: { key: "a", value: 1 } }, { operation: "merge", request: { key: "b" } }]) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_MALFORMED_REQUEST");
    const a = await sc.http("/v1.0/actors/CounterActor/http-basic/state/a");
    expect(a.status).toBe(204);
  });
});

describe("the sidecar's own view", () => {
  test("metadata reports actorRuntime and the active actors", async () => {
    const meta = (await (await sc.http("/v1.0/metadata")).json()) as { actorRuntime: { runtimeStatus: string; hostReady: boolean; placement: string; activeActors: { type: string; count: number }[] }; actors: unknown };
    expect(meta.actorRuntime.runtimeStatus).toBe("RUNNING");
    expect(meta.actorRuntime.hostReady).toBe(true);
    expect(meta.actorRuntime.placement).toBe("placement: connected");
    expect(meta.actorRuntime.activeActors.find((a) => a.type === "CounterActor")!.count).toBeGreaterThan(0);
    expect(meta.actors).toEqual(meta.actorRuntime.activeActors);
  });

  test("a reminder registered over HTTP is read back, then unregistered", async () => {
    const path = "/v1.0/actors/CounterActor/http-reader/reminders/later";
    const put = await sc.http(path, { method: "PUT", body: JSON.stringify({ dueTime: "1h", period: "1h", data: { n: 1 } }) });
    expect(put.status).toBe(204);
    const got = (await (await sc.http(path)).json()) as Record<string, unknown>;
    expect(got).toMatchObject({ actorID: "http-reader", actorType: "CounterActor", dueTime: "1h", period: "1h", data: { n: 1 } });
    expect((await sc.http(path, { method: "DELETE" })).status).toBe(204);
    const gone = await sc.http(path);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { errorCode: string }).errorCode).toBe("ERR_ACTOR_REMINDER_NOT_FOUND");
  });
});

test("--disable-init-endpoints config: the app is not asked for /dapr/config, so it hosts no actor types", async () => {
  const appPort = await freePort();
  let asked = false;
  const app = Bun.serve({ hostname: "127.0.0.1", port: appPort, fetch: (req) => {
    if (new URL(req.url).pathname === "/dapr/config") asked = true;
    return Response.json({ entities: ["CounterActor"] });
  } });
  // A registry of its own: the sidecar of the tests above hosts CounterActor and would take the call.
  const registryDir = mkdtempSync(join(tmpdir(), "rapr-actors-alone-"));
  const other = await startSidecar({ args: ["--app-port", String(appPort), "--disable-init-endpoints", "config"], env: { RAPR_REGISTRY_DIR: registryDir } });
  try {
    const meta = await waitFor(async () => {
      const m = (await (await other.http("/v1.0/metadata")).json()) as { actorRuntime?: { runtimeStatus: string; activeActors: unknown[] } };
      return m.actorRuntime?.runtimeStatus === "RUNNING" && m;
    }, "the actor runtime to start", 15_000);
    expect(meta.actorRuntime!.activeActors).toEqual([]);
    expect(asked).toBe(false);
    const res = await other.http("/v1.0/actors/CounterActor/x/method/count", { method: "POST" });
    expect(((await res.json()) as { errorCode: string }).errorCode).toBe("ERR_ACTOR_NO_ADDRESS");
  } finally {
    await other.stop();
    app.stop(true);
    rmSync(registryDir, { recursive: true, force: true });
  }
}, 30_000);
