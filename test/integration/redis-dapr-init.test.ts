// The components `dapr init` writes (test/fixtures/dapr-init: state.redis and pubsub.redis on localhost:6379, as
// written) start the compiled binary unedited: the Dapr JS SDK publishes over HTTP and gRPC and the app gets every
// event; state lands in Redis in daprd's layout (a hash with data and version) and a value laid out as daprd writes it
// is read back with its version as the ETag.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { fileURLToPath } from "node:url";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { Redis } from "ioredis";
import { sdkClient } from "../support/dapr-sdk.js";
import { startSidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { missing, REDIS_HOST } from "../support/backends.js";

setDefaultTimeout(60_000);

const DAPR_INIT_RESOURCES = fileURLToPath(new URL("../fixtures/dapr-init", import.meta.url));
const noRedis = await missing("redis");
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

describe.skipIf(noRedis)("dapr init's Redis components through the binary", () => {
  test("pub/sub: events published over HTTP and gRPC reach the app's subscription once each", async () => {
    const topic = `orders-${RUN}`;
    const got: { data: unknown }[] = [];
    const port = await freePort();
    const server = Bun.serve({
      port,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/dapr/subscribe") return Response.json([{ pubsubname: "pubsub", topic, route: "/orders" }]);
        if (req.method === "POST" && path === "/orders") {
          got.push((await req.json()) as { data: unknown });
          return Response.json({ status: "SUCCESS" });
        }
        return new Response(null, { status: 404 });
      },
    });
    cleanups.push(() => server.stop(true));
    const redis = new Redis(`redis://${REDIS_HOST}`);
    cleanups.push(async () => {
      await redis.del(topic);
      redis.disconnect();
    });
    const appId = `redis-init-${RUN}`;
    const sc = await startSidecar({ appId, args: ["--app-port", String(port), "--resources-path", DAPR_INIT_RESOURCES] });
    cleanups.push(() => sc.stop());
    await waitFor(async () => ((await (await sc.http("/v1.0/metadata")).json()) as any).subscriptions.length === 1, "subscribed", 15_000);

    for (const [i, protocol] of [CommunicationProtocolEnum.HTTP, CommunicationProtocolEnum.GRPC].entries()) {
      const client = sdkClient(sc, protocol);
      for (let n = 0; n < 5; n++) await client.pubsub.publish("pubsub", topic, { n: i * 5 + n });
    }
    await waitFor(() => got.length === 10, "every event delivered", 20_000);
    await Bun.sleep(300);
    expect(got.map((e) => (e.data as { n: number }).n).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    // As daprd: a stream named after the topic, a consumer group named after the app, nothing left pending.
    expect(await redis.xlen(topic)).toBe(10);
    const [group] = (await redis.call("XINFO", "GROUPS", topic)) as unknown[][];
    const field = (name: string) => group[group.indexOf(name) + 1];
    expect(field("name")).toBe(appId);
    expect(field("pending")).toBe(0);

    const md = (await (await sc.http("/v1.0/metadata")).json()) as any;
    expect(md.components).toContainEqual(expect.objectContaining({ name: "statestore", type: "state.redis" }));
    expect(md.components).toContainEqual(expect.objectContaining({ name: "pubsub", type: "pubsub.redis" }));
  });

  test("state: rapr writes daprd's hash layout, and reads a value daprd laid out with its version as the ETag", async () => {
    const appId = `redis-state-${RUN}`;
    const sc = await startSidecar({ appId, args: ["--resources-path", DAPR_INIT_RESOURCES] });
    cleanups.push(() => sc.stop());
    const redis = new Redis(`redis://${REDIS_HOST}`);
    cleanups.push(async () => {
      await redis.del(`${appId}||mine`, `${appId}||theirs`);
      redis.disconnect();
    });
    const client = sdkClient(sc, CommunicationProtocolEnum.HTTP);
    await client.state.save("statestore", [{ key: "mine", value: { a: 1 } }]);
    const stored = await redis.hgetall(`${appId}||mine`);
    expect(stored.data).toBe('{"a":1}');
    expect(stored.version).toMatch(/^\d+$/);
    const res = await sc.http("/v1.0/state/statestore/mine");
    expect(res.headers.get("etag")).toBe(stored.version);
    await redis.hincrby(`${appId}||mine`, "version", 1); // daprd's next write of the key
    const after = await sc.http("/v1.0/state/statestore/mine");
    expect(after.headers.get("etag")).toBe(String(BigInt(stored.version) + 1n));

    await redis.hset(`${appId}||theirs`, "data", '"from daprd"', "version", "7");
    const theirs = await sc.http("/v1.0/state/statestore/theirs");
    expect(await theirs.json()).toBe("from daprd");
    expect(theirs.headers.get("etag")).toBe("7");
    const stale = await sc.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "theirs", value: "x", etag: "6" }]), headers: { "content-type": "application/json" } });
    expect(stale.status).toBe(409);
    const fresh = await sc.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "theirs", value: "y", etag: "7" }]), headers: { "content-type": "application/json" } });
    expect(fresh.status).toBe(204);
    expect(await redis.hget(`${appId}||theirs`, "version")).toBe("8");
  });
});
