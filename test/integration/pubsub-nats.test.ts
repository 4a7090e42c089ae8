// Pub/sub on NATS JetStream through the compiled binary: competing consumers across sidecars, a gRPC app built with
// the Dapr SDK's DaprServer, the at-least-once crash test (kill -9 the app mid-stream), a broker outage, and SIGTERM
// with deliveries in flight (drained, acknowledged, not redelivered).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { sdkClient, sdkServer } from "../support/dapr-sdk.js";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager, type ConsumerInfo } from "@nats-io/jetstream";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { BUN, FIXTURE_APP, received, resourcesDir, uniq } from "../pubsub/harness.js";
import { PrivateNats } from "../support/private-nats.js";
import { missing, NATS_URL } from "../support/backends.js";
import { natsName } from "../../plugins/pubsub.nats/names.js";
import { componentYaml } from "../support/components.js";

setDefaultTimeout(60_000);

const noNats = await missing("nats");
const withPrivateNats = test.skipIf(await missing("nats-server"));
const RUN = uniq();
const STREAM_PREFIX = `raprit-${RUN}-`;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  if (noNats) return;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for await (const s of jsm.streams.list()) if (s.config.name.startsWith(STREAM_PREFIX)) await jsm.streams.delete(s.config.name);
  await nc.close();
});

function natsComponent(url: string, extra: Record<string, string> = {}) {
  const md = { natsURL: url, streamPrefix: STREAM_PREFIX, ackWait: "5s", redeliveryInitialDelay: "50ms", redeliveryMaxDelay: "500ms", ...extra };
  return componentYaml("pubsub", "pubsub.nats", md);
}

function spawnApp(port: number, env: Record<string, string>): Subprocess {
  return Bun.spawn([BUN, FIXTURE_APP], { env: { ...process.env, APP_PORT: String(port), ...env }, stdout: "ignore", stderr: "ignore" });
}

async function sidecarWithApp(appId: string, resDir: string, subs: unknown[], extraEnv: Record<string, string> = {}) {
  const port = await freePort();
  const sc = await startSidecar({ appId, args: ["--app-port", String(port), "--resources-path", resDir], env: { SUBSCRIPTIONS: JSON.stringify(subs), ...extraEnv }, appCommand: [BUN, FIXTURE_APP] });
  cleanups.push(() => sc.stop());
  return { sc, port };
}

async function subscribed(sc: Sidecar, n: number) {
  await waitFor(async () => ((await (await sc.http("/v1.0/metadata")).json()) as any).subscriptions.length >= n, `${sc.appId} subscribed`, 15_000);
}

/** The durable consumer of `appId` on `topic`'s stream, as the broker sees it. */
async function consumerInfo(topic: string, appId: string): Promise<ConsumerInfo> {
  const nc = await connect({ servers: NATS_URL });
  try {
    return await (await jetstreamManager(nc)).consumers.info(natsName(STREAM_PREFIX + topic), natsName(appId));
  } finally {
    await nc.close();
  }
}

/** The consumer's state once the broker has `count` acknowledgements from the app's group. */
function acknowledged(topic: string, appId: string, count: number): Promise<ConsumerInfo> {
  return waitFor(async () => {
    const ci = await consumerInfo(topic, appId);
    return ci.ack_floor.consumer_seq >= count && ci;
  }, `${count} acknowledgement(s) at the broker`);
}

/**
 * An HTTP app in this process: subscribes to `subs`, records the data of every event it is handed (each entry of a
 * bulk delivery too), and answers SUCCESS once `answer` resolves; `aborted` counts deliveries the sidecar gave up on.
 */
async function recordingApp(subs: unknown[], answer: () => Promise<void> = async () => {}) {
  const port = await freePort();
  const got: any[] = [];
  const stats = { answered: 0, aborted: 0 };
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      if (req.method === "GET" && new URL(req.url).pathname === "/dapr/subscribe") return Response.json(subs);
      if (req.method !== "POST") return new Response(null, { status: 404 });
      const body = (await req.json()) as any;
      const entries: any[] | undefined = body.entries;
      got.push(...(entries ? entries.map((e) => e.event.data) : [body.data]));
      req.signal.addEventListener("abort", () => stats.aborted++, { once: true });
      await answer();
      stats.answered++;
      return entries ? Response.json({ statuses: entries.map((e) => ({ entryId: e.entryId, status: "SUCCESS" })) }) : Response.json({ status: "SUCCESS" });
    },
  });
  cleanups.push(() => server.stop(true));
  return { port, got, stats };
}

describe.skipIf(noNats)("pubsub.nats through rapr", () => {
  test("instances of one app id share a topic; another app id gets every message", async () => {
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const topic = `work-${RUN}`;
    const subs = [{ pubsubname: "pubsub", topic, route: "/work" }];
    const w1 = await sidecarWithApp(`workers-${RUN}`, res, subs);
    const w2 = await sidecarWithApp(`workers-${RUN}`, res, subs);
    const audit = await sidecarWithApp(`audit-${RUN}`, res, subs);
    await Promise.all([w1, w2, audit].map((x) => subscribed(x.sc, 1)));
    const client = sdkClient(w1.sc, CommunicationProtocolEnum.HTTP);
    const N = 40;
    for (let i = 0; i < N; i++) expect((await client.pubsub.publish("pubsub", topic, { seq: i })).error).toBeUndefined();
    const seqs = async (port: number) => (await received(port)).filter((r) => r.path === "/work").map((r) => r.event.data.seq as number);
    await waitFor(async () => (await seqs(w1.port)).length + (await seqs(w2.port)).length >= N && (await seqs(audit.port)).length >= N, "all deliveries", 20_000);
    const shared = [...(await seqs(w1.port)), ...(await seqs(w2.port))];
    expect(new Set(shared).size).toBe(N);
    expect(new Set(await seqs(audit.port)).size).toBe(N);
  });

  test("a gRPC app written with the SDK's DaprServer receives events through OnTopicEvent, and bulk through AppCallbackAlpha", async () => {
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const appPort = await freePort();
    const sc = await startSidecar({ appId: `grpcapp-${RUN}`, args: ["--app-port", String(appPort), "--app-protocol", "grpc", "--resources-path", res] });
    cleanups.push(() => sc.stop());
    const server = sdkServer(sc, appPort, CommunicationProtocolEnum.GRPC);
    const got: any[] = [];
    const topic = `grpc-${RUN}`;
    await server.pubsub.subscribe("pubsub", topic, async (data: any) => {
      got.push(data);
    });
    const bulkGot: any[] = [];
    await server.pubsub.subscribeBulk("pubsub", `${topic}-bulk`, async (data: any) => {
      bulkGot.push(data);
    }, { maxMessagesCount: 4, maxAwaitDurationMs: 100 });
    await server.start();
    cleanups.push(() => server.stop());
    await subscribed(sc, 2);
    const client = sdkClient(sc, CommunicationProtocolEnum.GRPC);
    await client.pubsub.publish("pubsub", topic, { hello: "grpc" });
    await waitFor(() => got.length >= 1, "OnTopicEvent delivery");
    expect(got[0]).toEqual({ hello: "grpc" });
    expect((await client.pubsub.publishBulk("pubsub", `${topic}-bulk`, Array.from({ length: 6 }, (_, n) => ({ n })))).failedMessages).toEqual([]);
    await waitFor(() => bulkGot.length >= 6, "bulk deliveries to the gRPC app");
    expect(bulkGot.map((d) => d.n).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    await client.stop();
  });

  test("an HTTP app written with the SDK's DaprServer gets single and bulk deliveries in Dapr's formats", async () => {
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const appPort = await freePort();
    const sc = await startSidecar({ appId: `httpsdk-${RUN}`, args: ["--app-port", String(appPort), "--resources-path", res] });
    cleanups.push(() => sc.stop());
    const server = sdkServer(sc, appPort, CommunicationProtocolEnum.HTTP);
    const topic = `httpsdk-${RUN}`;
    const single: any[] = [];
    const bulk: any[] = [];
    await server.pubsub.subscribe("pubsub", topic, async (data: any) => {
      single.push(data);
    });
    await server.pubsub.subscribeBulk("pubsub", `${topic}-bulk`, async (data: any) => {
      bulk.push(data);
    }, { maxMessagesCount: 4, maxAwaitDurationMs: 100 });
    // Routing rules and a dead-letter topic as the SDK declares them in GET /dapr/subscribe.
    const routed: { path: string; data: any }[] = [];
    await server.pubsub.subscribeWithOptions("pubsub", `${topic}-routed`, {
      route: { rules: [{ match: 'event.data.kind == "vip"', path: "/vip" }], default: "/std" },
      deadLetterTopic: `${topic}-dead`,
    });
    server.pubsub.subscribeToRoute("pubsub", `${topic}-routed`, "/vip", async (data: any) => void routed.push({ path: "vip", data }));
    server.pubsub.subscribeToRoute("pubsub", `${topic}-routed`, "/std", async (data: any) => void routed.push({ path: "std", data }));
    await server.start();
    cleanups.push(() => server.stop());
    await subscribed(sc, 3);
    const meta = (await (await sc.http("/v1.0/metadata")).json()) as any;
    expect(meta.subscriptions.find((x: any) => x.topic === `${topic}-routed`)).toMatchObject({ deadLetterTopic: `${topic}-dead`, rules: [{ match: 'event.data.kind == "vip"', path: expect.stringContaining("vip") }, { match: "", path: expect.stringContaining("std") }] });
    const client = sdkClient(sc, CommunicationProtocolEnum.HTTP);
    await client.pubsub.publish("pubsub", `${topic}-routed`, { kind: "vip", n: 1 });
    await client.pubsub.publish("pubsub", `${topic}-routed`, { kind: "plain", n: 2 });
    await waitFor(() => routed.length >= 2, "routed SDK deliveries");
    expect(routed.find((r) => r.data.n === 1)!.path).toBe("vip");
    expect(routed.find((r) => r.data.n === 2)!.path).toBe("std");
    await client.pubsub.publish("pubsub", topic, { hello: "http" });
    expect((await client.pubsub.publishBulk("pubsub", `${topic}-bulk`, Array.from({ length: 6 }, (_, n) => ({ n })))).failedMessages).toEqual([]);
    await waitFor(() => single.length >= 1 && bulk.length >= 6, "SDK HTTP deliveries");
    expect(single[0]).toEqual({ hello: "http" });
    expect(bulk.map((d) => d.n).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    await client.stop();
  });

  test("kill -9 of the subscribing app mid-stream loses nothing: after a restart every message was delivered at least once", async () => {
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL, { ackWait: "3s" }) });
    const dir = mkdtempSync(join(tmpdir(), "rapr-crash-"));
    cleanups.push(() => rmSync(res, { recursive: true, force: true }), () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "received.txt");
    const topic = `crash-${RUN}`;
    const appPort = await freePort();
    const env = { SUBSCRIPTIONS: JSON.stringify([{ pubsubname: "pubsub", topic, route: "/crash" }]), RECEIVED_FILE: file, DELAY_MS: "20" };
    let app = spawnApp(appPort, env);
    cleanups.push(() => app.kill("SIGKILL"));
    const sc = await startSidecar({ appId: `crashy-${RUN}`, args: ["--app-port", String(appPort), "--resources-path", res] });
    cleanups.push(() => sc.stop());
    await subscribed(sc, 1);
    const lines = () => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number) : []);

    const N = 300;
    let published = 0;
    const publishing = (async () => {
      for (; published < N; published++) {
        const res = await sc.http(`/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seq: published }) });
        if (res.status !== 204) throw new Error(`publish ${published} answered ${res.status}`);
        if (published % 10 === 0) await Bun.sleep(5);
      }
    })();
    await waitFor(() => lines().length >= 30, "first deliveries");
    app.kill("SIGKILL"); // mid-stream: deliveries are in flight and more are being published
    await app.exited;
    const deliveredBeforeCrash = new Set(lines()).size;
    const publishedAtCrash = published;
    await waitFor(() => published >= Math.min(N, publishedAtCrash + 50), "publishing while the app is dead");
    app = spawnApp(appPort, env);
    await publishing;
    await waitFor(() => new Set(lines()).size === N, `all ${N} messages delivered`, 30_000);
    const all = lines();
    const unique = new Set(all);
    console.log(`crash test: ${N} published (${publishedAtCrash} before kill -9), ${deliveredBeforeCrash} delivered before kill -9, ${unique.size} distinct delivered, ${all.length - unique.size} redelivered duplicates`);
    expect(unique.size).toBe(N);
    for (let s = 0; s < N; s++) expect(unique.has(s)).toBe(true);
  });

  withPrivateNats("broker down: publish answers 500 while the sidecar stays up; after the broker is back, publishing and delivery resume", async () => {
    const nats = await PrivateNats.start();
    cleanups.push(() => nats.dispose());
    const res = resourcesDir({ "nats.yaml": natsComponent(nats.url, { publishTimeout: "1s" }) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const topic = `outage-${RUN}`;
    const { sc, port } = await sidecarWithApp(`outage-${RUN}`, res, [{ pubsubname: "pubsub", topic, route: "/outage" }]);
    await subscribed(sc, 1);
    const publish = (n: number) => sc.http(`/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n }) });
    expect((await publish(1)).status).toBe(204);
    await waitFor(async () => (await received(port)).some((r) => r.event?.data?.n === 1), "delivery before the outage");

    await nats.kill();
    const down = await publish(2);
    expect(down.status).toBe(500);
    expect(((await down.json()) as any).errorCode).toBe("ERR_PUBSUB_PUBLISH_MESSAGE");
    expect((await sc.http("/v1.0/healthz")).status).toBe(204);
    const bulkDown = await sc.http(`/v1.0-alpha1/publish/bulk/pubsub/${topic}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ entryId: "b1", event: { n: 10 }, contentType: "application/json" }, { entryId: "b2", event: { n: 11 }, contentType: "application/json" }]),
    });
    expect(bulkDown.status).toBe(500);
    const failed = ((await bulkDown.json()) as any).failedEntries.map((f: any) => f.entryId).sort();
    expect(failed).toEqual(["b1", "b2"]);

    await nats.restart();
    await waitFor(async () => (await publish(3)).status === 204, "publishing after the broker is back", 20_000, 250);
    await waitFor(async () => (await received(port)).some((r) => r.event?.data?.n === 3), "delivery after the outage", 20_000);
  });

  withPrivateNats("subscriptions that cannot start while the broker is down start once it is back", async () => {
    const nats = await PrivateNats.start();
    cleanups.push(() => nats.dispose());
    const res = resourcesDir({ "nats.yaml": natsComponent(nats.url, { publishTimeout: "1s" }) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const topic = `late-${RUN}`;
    const appPort = await freePort();
    // The sidecar starts with the broker up but no app yet; the broker goes down before the app opens its port.
    const sc = await startSidecar({ appId: `late-${RUN}`, args: ["--app-port", String(appPort), "--resources-path", res] });
    cleanups.push(() => sc.stop());
    await nats.kill();
    const app = spawnApp(appPort, { SUBSCRIPTIONS: JSON.stringify([{ pubsubname: "pubsub", topic, route: "/late" }]) });
    cleanups.push(() => app.kill("SIGKILL"));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${appPort}/received`).then((r) => r.ok, () => false)), "app up");
    await Bun.sleep(1500); // the first subscribe attempts fail against the dead broker
    expect(((await (await sc.http("/v1.0/metadata")).json()) as any).subscriptions.length).toBe(0);
    await nats.restart();
    await subscribed(sc, 1);
    expect((await sc.http(`/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"late":true}' })).status).toBe(204);
    await waitFor(async () => (await received(appPort)).some((r) => r.event?.data?.late), "delivery to the late subscription", 20_000);
  });

  test("SIGTERM while a delivery is in flight: the app's answer is acknowledged, not redelivered to the group's other sidecar, and the sidecar exits 0", async () => {
    // An ackWait far longer than the test: a redelivery could only come from a message handed back.
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL, { ackWait: "60s" }) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const appId = `drain-${RUN}`;
    const topic = `drain-${RUN}`;
    const subs = [{ pubsubname: "pubsub", topic, route: "/drain" }];
    const answer = Promise.withResolvers<void>();
    const slow = await recordingApp(subs, () => answer.promise);
    const other = await recordingApp(subs);
    const first = await startSidecar({ appId, args: ["--app-port", String(slow.port), "--resources-path", res] });
    cleanups.push(() => first.stop());
    await subscribed(first, 1);
    const publish = (sc: Sidecar, n: number) => sc.http(`/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n }) });
    expect((await publish(first, 1)).status).toBe(204);
    await waitFor(() => slow.got.length === 1, "the delivery at the slow app");
    const second = await startSidecar({ appId, args: ["--app-port", String(other.port), "--resources-path", res] });
    cleanups.push(() => second.stop());
    await subscribed(second, 1);

    const exiting = first.stop(); // SIGTERM
    await Bun.sleep(300); // the sidecar is stopping while its app still works on the event
    answer.resolve();
    expect(await exiting).toBe(0);
    expect(slow.stats).toEqual({ answered: 1, aborted: 0 });
    // The broker has the acknowledgement: one delivery, acknowledged.
    const info = await acknowledged(topic, appId, 1);
    expect(info.delivered.consumer_seq).toBe(1);
    expect(info.num_ack_pending).toBe(0);
    // The other sidecar of the group gets what comes next, and nothing before it.
    expect((await publish(second, 2)).status).toBe(204);
    await waitFor(() => other.got.length >= 1, "the next event at the other sidecar");
    expect(other.got).toEqual([{ n: 2 }]);
    expect(slow.got).toEqual([{ n: 1 }]);
  });

  test("SIGTERM while a bulk-subscribe batch is being collected: the batch goes to the app at once and is acknowledged", async () => {
    // An ackWait far longer than the test: a redelivery could only come from a message handed back.
    const res = resourcesDir({ "nats.yaml": natsComponent(NATS_URL, { ackWait: "60s" }) });
    cleanups.push(() => rmSync(res, { recursive: true, force: true }));
    const appId = `drainbulk-${RUN}`;
    const topic = `drainbulk-${RUN}`;
    // The batch would wait 60 s for more messages: far beyond the sidecar's graceful-shutdown time.
    const subs = [{ pubsubname: "pubsub", topic, route: "/bulk", bulkSubscribe: { enabled: true, maxMessagesCount: 100, maxAwaitDurationMs: 60_000 } }];
    const app = await recordingApp(subs);
    const sc = await startSidecar({ appId, args: ["--app-port", String(app.port), "--resources-path", res] });
    cleanups.push(() => sc.stop());
    await subscribed(sc, 1);
    for (const n of [1, 2, 3]) {
      const r = await sc.http(`/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n }) });
      expect(r.status).toBe(204);
    }
    await waitFor(async () => (await consumerInfo(topic, appId)).num_ack_pending === 3, "three messages handed to the batcher");
    expect(app.got).toEqual([]);
    expect(await sc.stop()).toBe(0);
    expect(app.got.map((d) => d.n).sort()).toEqual([1, 2, 3]);
    const info = await acknowledged(topic, appId, 3);
    expect(info.delivered.consumer_seq).toBe(3);
    expect(info.num_ack_pending).toBe(0);
  });
});
