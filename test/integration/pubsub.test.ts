// Pub/sub through the compiled binary on the in-memory broker: the Dapr JS SDK publishes over HTTP and gRPC, a Bun
// HTTP app (test/fixtures/pubsub-app.ts) subscribes programmatically and declaratively.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum, DaprClient, LogLevel } from "@dapr/dapr";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { TopicEventResponse_TopicEventResponseStatus as Status } from "../../src/gen/dapr/proto/runtime/v1/appcallback_pb.js";
import type { SubscribeTopicEventsRequestAlpha1 } from "../../src/gen/dapr/proto/runtime/v1/pubsub_pb.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { componentYaml } from "../support/components.js";
import { MAX_JSON_DEPTH } from "../../src/json.js";
import { appPort, BUN, FIXTURE_APP, received, resourcesDir, until } from "../pubsub/harness.js";

setDefaultTimeout(30_000);

const APP_ID = "pubsub-it";
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

const programmatic = [
  { pubsubname: "pubsub", topic: "orders", route: "/orders" },
  { pubsubname: "pubsub", topic: "typed", routes: { rules: [{ match: 'event.type == "order" && event.data.total > 100', path: "/big-orders" }, { match: 'event.type == "order"', path: "/orders-typed" }], default: "/other" } },
  { pubsubname: "pubsub", topic: "raw", route: "/raw", metadata: { rawPayload: "true" } },
  { pubsubname: "pubsub", topic: "answers", route: "/answers" },
  { pubsubname: "pubsub", topic: "slow", route: "/slow", metadata: { deliveryTimeoutMs: "300" } },
  { pubsubname: "pubsub", topic: "dead", route: "/dead" },
  { pubsubname: "pubsub", topic: "bulk", route: "/bulk", bulkSubscribe: { enabled: true, maxMessagesCount: 5, maxAwaitDurationMs: 100 } },
];

let sidecar: Sidecar;
let port: number;
let resDir: string;

beforeAll(async () => {
  port = await appPort();
  resDir = resourcesDir({
    "pubsub.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: { name: pubsub }
spec:
  type: pubsub.in-memory
  version: v1
  metadata:
    - { name: maxDeliver, value: "3" }
    - { name: redeliveryInitialDelay, value: "10ms" }
    - { name: redeliveryMaxDelay, value: "50ms" }
`,
    "subscriptions.yaml": `apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: declared }
spec:
  pubsubname: pubsub
  topic: declared
  routes:
    default: /declared
  deadLetterTopic: dead
scopes: [${APP_ID}]
---
apiVersion: dapr.io/v1alpha1
kind: Subscription
metadata: { name: declared-v1 }
spec:
  pubsubname: pubsub
  topic: declared-v1
  route: /declared-v1
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata: { name: not-mine }
spec:
  pubsubname: pubsub
  topic: not-mine
  routes: { default: /not-mine }
scopes: [someone-else]
`,
  });
  sidecar = await startSidecar({
    appId: APP_ID,
    args: ["--app-port", String(port), "--resources-path", resDir],
    env: { SUBSCRIPTIONS: JSON.stringify(programmatic) },
    appCommand: [BUN, FIXTURE_APP],
  });
  await waitFor(async () => ((await (await sidecar.http("/v1.0/metadata")).json()) as any).subscriptions.length >= 9, "subscriptions loaded");
});

afterAll(async () => {
  if (process.env.RAPR_TEST_DEBUG) {
    sidecar?.proc.kill("SIGTERM");
    console.log(await sidecar?.output());
  }
  await sidecar?.stop();
  rmSync(resDir, { recursive: true, force: true });
});

const publish = (topic: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }, query = "") =>
  sidecar.http(`/v1.0/publish/pubsub/${topic}${query}`, { method: "POST", headers, body });

describe("publish", () => {
  test("the Dapr JS SDK over HTTP and gRPC publishes CloudEvents 1.0 that reach the app's route", async () => {
    for (const [proto, p] of [["http", CommunicationProtocolEnum.HTTP], ["grpc", CommunicationProtocolEnum.GRPC]] as const) {
      const client = new DaprClient({
        daprHost: "127.0.0.1",
        daprPort: String(p === CommunicationProtocolEnum.HTTP ? sidecar.httpPort : sidecar.grpcPort),
        communicationProtocol: p,
        logger: { level: LogLevel.Error, service: quiet },
      });
      const res = await client.pubsub.publish("pubsub", "orders", { via: proto, total: 7 });
      expect(res.error).toBeUndefined();
      await client.stop();
    }
    const log = await until(port, (r) => r.filter((x) => x.path === "/orders").length >= 2, "two orders");
    const orders = log.filter((x) => x.path === "/orders");
    expect(orders.map((o) => o.event.data.via).sort()).toEqual(["grpc", "http"]);
    for (const o of orders) {
      expect(o.headers["content-type"]).toBe("application/cloudevents+json");
      expect(o.event).toMatchObject({ specversion: "1.0", source: APP_ID, type: "com.dapr.event.sent", topic: "orders", pubsubname: "pubsub", datacontenttype: "application/json" });
      expect(typeof o.event.id).toBe("string");
    }
  });

  test("traceparent travels in the envelope and to the app", async () => {
    const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    expect((await publish("orders", '{"traced":true}', { "content-type": "application/json", traceparent: tp })).status).toBe(204);
    const log = await until(port, (r) => r.some((x) => x.event?.data?.traced), "traced event");
    const e = log.find((x) => x.event?.data?.traced)!;
    expect(e.event.traceparent).toBe(tp);
    expect(e.headers.traceparent).toBe(tp);
  });

  test("an application/cloudevents+json body is taken as is; a bad one is a 400", async () => {
    const ce = { specversion: "1.0", id: "given-id", source: "elsewhere", type: "order", datacontenttype: "application/json", data: { total: 5 } };
    expect((await publish("typed", JSON.stringify(ce), { "content-type": "application/cloudevents+json" })).status).toBe(204);
    const log = await until(port, (r) => r.some((x) => x.event?.id === "given-id"), "the given CloudEvent");
    expect(log.find((x) => x.event?.id === "given-id")!.event).toMatchObject({ source: "elsewhere", type: "order", data: { total: 5 } });

    for (const bad of ['{"specversion":"0.3","id":"x","source":"s","type":"t"}', "[1,2]", "not json", '{"id":5}']) {
      const res = await publish("typed", bad, { "content-type": "application/cloudevents+json" });
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).errorCode).toBe("ERR_PUBSUB_CLOUD_EVENTS_SER");
    }
  });

  test("an unknown pubsub is a 404 ERR_PUBSUB_NOT_FOUND over HTTP and NotFound-style InvalidArgument over gRPC", async () => {
    const res = await sidecar.http("/v1.0/publish/nope/orders", { method: "POST", body: "{}" });
    expect(res.status).toBe(404);
    expect(((await res.json()) as any).errorCode).toBe("ERR_PUBSUB_NOT_FOUND");
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
    const err = await dapr.publishEvent({ pubsubName: "nope", topic: "orders", data: new Uint8Array() }).catch((e) => e);
    expect(String(err.message)).toContain("pubsub nope not found");
  });

  test("metadata.rawPayload=true publishes the bytes as they are; a rawPayload subscription gets them in data_base64 of a CloudEvent, as daprd sends them", async () => {
    expect((await publish("raw", "plain bytes ü", { "content-type": "text/plain" }, "?metadata.rawPayload=true&metadata.tag=t1")).status).toBe(204);
    const log = await until(port, (r) => r.some((x) => x.path === "/raw"), "raw delivery");
    const e = log.find((x) => x.path === "/raw")!;
    expect(e.event).toMatchObject({ specversion: "1.0", source: "Dapr", type: "com.dapr.event.sent", datacontenttype: "application/octet-stream", topic: "raw", pubsubname: "pubsub" });
    expect(Buffer.from(e.event.data_base64, "base64").toString()).toBe("plain bytes ü");
    expect(e.headers["content-type"]).toBe("application/cloudevents+json");
    expect(e.headers).toMatchObject({ pubsubname: "pubsub", tag: "t1" }); // the message's metadata
  });
});

describe("subscriptions", () => {
  test("CEL routing rules pick the route; unmatched events go to the default", async () => {
    const send = (type: string, total: number) =>
      publish("typed", JSON.stringify({ specversion: "1.0", id: `r-${type}-${total}`, source: "t", type, data: { total } }), { "content-type": "application/cloudevents+json" });
    await send("order", 500);
    await send("order", 50);
    await send("refund", 500);
    const log = await until(port, (r) => ["r-order-500", "r-order-50", "r-refund-500"].every((id) => r.some((x) => x.event?.id === id)), "routed events");
    const pathOf = (id: string) => log.find((x) => x.event?.id === id)!.path;
    expect(pathOf("r-order-500")).toBe("/big-orders");
    expect(pathOf("r-order-50")).toBe("/orders-typed");
    expect(pathOf("r-refund-500")).toBe("/other");
  });

  test("declarative Subscriptions (v2alpha1 and v1alpha1) deliver; one scoped to another app does not", async () => {
    await publish("declared-v1", '{"k":"v1"}');
    await publish("not-mine", '{"k":"nope"}');
    await publish("declared", '{"k":"v2"}');
    const log = await until(port, (r) => r.some((x) => x.path === "/declared") && r.some((x) => x.path === "/declared-v1"), "declarative deliveries");
    expect(log.some((x) => x.path === "/not-mine")).toBe(false);
    const meta = (await (await sidecar.http("/v1.0/metadata")).json()) as any;
    const declared = meta.subscriptions.find((s: any) => s.topic === "declared");
    expect(declared).toMatchObject({ pubsubname: "pubsub", type: "DECLARATIVE", deadLetterTopic: "dead" });
    expect(meta.subscriptions.find((s: any) => s.topic === "orders").type).toBe("PROGRAMMATIC");
    expect(meta.subscriptions.some((s: any) => s.topic === "not-mine")).toBe(false);
  });

  test("the app's answers: RETRY redelivers, DROP and 404 do not, 500 retries until the dead-letter topic takes it, DROP goes there at once", async () => {
    await publish("answers", JSON.stringify({ action: "retry-once", tag: "a1" }));
    await publish("answers", JSON.stringify({ action: "drop", tag: "a2" }));
    await publish("answers", JSON.stringify({ action: "notfound", tag: "a3" }));
    await publish("declared", JSON.stringify({ action: "status500", tag: "a4" }));
    await publish("declared", JSON.stringify({ action: "drop", tag: "a5" }));
    const count = (r: any[], path: string, tag: string) => r.filter((x) => x.path === path && x.event?.data?.tag === tag).length;
    const log = await until(port, (r) => count(r, "/answers", "a1") === 2 && count(r, "/dead", "a4") >= 1 && count(r, "/dead", "a5") === 1, "retry and dead-letter").catch(async (e) => {
      console.log(JSON.stringify((await received(port)).filter((x) => x.event?.data?.tag).map((x) => [x.path, x.event.data.tag, x.event.id])));
      throw e;
    });
    expect(count(log, "/declared", "a4")).toBe(3); // maxDeliver 3, then the dead-letter topic (where the fixture fails it again)
    await Bun.sleep(200);
    const after = await received(port);
    expect(count(after, "/answers", "a2")).toBe(1);
    expect(count(after, "/answers", "a3")).toBe(1);
    expect(count(after, "/declared", "a4")).toBe(3);
    expect(count(after, "/declared", "a5")).toBe(1);
    expect(count(after, "/dead", "a5")).toBe(1);
  });

  test("an event nested as deeply as publishing allows is routed by CEL and delivered; an app answering with JSON nested past the limit counts as success, as in daprd", async () => {
    const inner = "[".repeat(MAX_JSON_DEPTH - 2) + "]".repeat(MAX_JSON_DEPTH - 2); // the CloudEvent and its data are the other two levels
    const ce = `{"specversion":"1.0","id":"deepest","source":"t","type":"order","data":{"total":500,"deep":${inner}}}`;
    expect((await publish("typed", ce, { "content-type": "application/cloudevents+json" })).status).toBe(204);
    expect((await publish("answers", JSON.stringify({ action: "deep-answer", tag: "deep1" }))).status).toBe(204);
    const log = await until(port, (r) => r.some((x) => x.event?.id === "deepest") && r.some((x) => x.event?.data?.tag === "deep1"), "the deep event and the deep answer");
    expect(log.find((x) => x.event?.id === "deepest")!.path).toBe("/big-orders");
    await Bun.sleep(200);
    expect((await received(port)).filter((x) => x.event?.data?.tag === "deep1").length).toBe(1); // answered, not redelivered
    expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
  });

  test("an app that hangs past the delivery timeout gets the event again", async () => {
    await publish("slow", JSON.stringify({ action: "hang-once", tag: "h1" }));
    const log = await until(port, (r) => r.filter((x) => x.path === "/slow").length >= 2, "redelivery after the hang");
    const ids = log.filter((x) => x.path === "/slow").map((x) => x.event.id);
    expect(ids[0]).toBe(ids[1]);
  });

  test("bulk publish over HTTP and the SDK; a bulk subscription gets batches with per-entry statuses", async () => {
    const res = await sidecar.http("/v1.0-alpha1/publish/bulk/pubsub/bulk", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ entryId: `e${i}`, event: { n: i }, contentType: "application/json" }))),
    });
    expect(res.status).toBe(204);
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sidecar.grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger: { level: LogLevel.Error, service: quiet } });
    const out = await client.pubsub.publishBulk("pubsub", "bulk", [{ n: 100 }, { n: 101 }]);
    expect(out.failedMessages).toEqual([]);
    await client.stop();
    const log = await until(port, (r) => r.filter((x) => x.path === "/bulk").flatMap((x) => x.event.entries).length >= 8, "bulk deliveries");
    const batches = log.filter((x) => x.path === "/bulk");
    expect(batches.every((b) => b.event.entries.length <= 5)).toBe(true);
    expect(batches.length).toBeLessThan(8);
    const ns = batches.flatMap((b) => b.event.entries.map((e: any) => e.event.data.n)).sort((a: number, b: number) => a - b);
    expect(ns).toEqual([0, 1, 2, 3, 4, 5, 100, 101]);
  });

  test("the stable bulk publish path /v1.0/publish/bulk/ is bulk publish, not a single publish to a pubsub named bulk", async () => {
    const res = await sidecar.http("/v1.0/publish/bulk/pubsub/bulk", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ entryId: "s1", event: { n: 200 }, contentType: "application/json" }, { entryId: "s2", event: { n: 201 }, contentType: "application/json" }]),
    });
    expect(res.status).toBe(204);
    const log = await until(port, (r) => r.filter((x) => x.path === "/bulk").flatMap((x) => x.event.entries).some((e: any) => e.event.data.n === 201), "stable-path bulk deliveries");
    expect(log.filter((x) => x.path === "/bulk").flatMap((x) => x.event.entries.map((e: any) => e.event.data.n))).toContain(200);
  });

  test("bad bulk publish input is a 400", async () => {
    const res = await sidecar.http("/v1.0-alpha1/publish/bulk/pubsub/bulk", { method: "POST", headers: { "content-type": "application/json" }, body: '{"not":"a list"}' });
    expect(res.status).toBe(400);
  });

  test("a streaming subscription (SubscribeTopicEventsAlpha1) receives events and acknowledges them by id", async () => {
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
    const acks: SubscribeTopicEventsRequestAlpha1[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    async function* requests() {
      yield { subscribeTopicEventsRequestType: { case: "initialRequest" as const, value: { pubsubName: "pubsub", topic: "streamed", metadata: {} } } } as any;
      while (!done) {
        if (!acks.length) {
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        yield acks.shift()!;
      }
    }
    const controller = new AbortController();
    const got: any[] = [];
    const reading = (async () => {
      for await (const res of dapr.subscribeTopicEventsAlpha1(requests(), { signal: controller.signal })) {
        const r = res.subscribeTopicEventsResponseType;
        if (r.case === "initialResponse") {
          await publish("streamed", '{"s":1}');
          await publish("streamed", '{"s":2}');
          continue;
        }
        if (r.case !== "eventMessage") continue;
        got.push({ id: r.value.id, data: JSON.parse(new TextDecoder().decode(r.value.data)), topic: r.value.topic });
        acks.push({ subscribeTopicEventsRequestType: { case: "eventProcessed", value: { id: r.value.id, status: { status: Status.SUCCESS } } } } as any);
        wake?.();
        if (got.length === 2) break;
      }
    })().catch((e) => e);
    await waitFor(() => got.length === 2, "two streamed events");
    done = true;
    wake?.();
    controller.abort();
    await reading;
    expect(got.map((g) => g.data.s)).toEqual([1, 2]);
    expect(got[0].topic).toBe("streamed");
  });
});

describe("app health", () => {
  test("while the app's health probes fail it gets no events; they arrive once it is healthy again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-health-"));
    const flag = join(dir, "unhealthy");
    const hport = await appPort();
    const sc2 = await startSidecar({
      appId: "pubsub-health",
      args: ["--app-port", String(hport), "--enable-app-health-check", "--app-health-probe-interval", "1", "--app-health-threshold", "1", "--app-health-check-path", "/healthz"],
      env: { SUBSCRIPTIONS: JSON.stringify([{ pubsubname: "pubsub", topic: "health", route: "/health" }]), UNHEALTHY_FILE: flag },
      appCommand: [BUN, FIXTURE_APP],
    });
    try {
      await waitFor(async () => ((await (await sc2.http("/v1.0/metadata")).json()) as any).subscriptions.length === 1, "subscribed");
      writeFileSync(flag, "");
      await Bun.sleep(2500); // two probe periods: the sidecar has seen the app fail
      const res = await sc2.http("/v1.0/publish/pubsub/health", { method: "POST", headers: { "content-type": "application/json" }, body: '{"h":1}' });
      expect(res.status).toBe(204);
      await Bun.sleep(1000);
      expect((await received(hport)).some((r) => r.path === "/health")).toBe(false);
      rmSync(flag);
      await until(hport, (r) => r.some((x) => x.path === "/health"), "delivery after the app is healthy again", 15_000);
    } finally {
      await sc2.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A third-party pubsub written before Subscription.drain (a plain JS module for --plugins-path): in-process, and it
// writes each answer its handler gives into the file named by its metadata.
const LEGACY_PUBSUB_PLUGIN = `
import { appendFileSync } from "node:fs";
export default {
  type: "pubsub.legacy",
  metadata: { answersFile: { type: "string", required: true } },
  async create(md) {
    const handlers = new Map();
    return {
      features: () => ["DURABLE"],
      async publish(req) {
        for (const h of handlers.get(req.topic) ?? []) {
          void h({ ...req, metadata: {}, deliveryAttempt: 1, maxAttempts: Infinity }).then((r) => appendFileSync(md.answersFile, r + "\\n"));
        }
      },
      async bulkPublish(reqs) {
        for (const r of reqs) await this.publish(r);
        return { failed: [] };
      },
      async subscribe(req, handler) {
        if (!handlers.has(req.topic)) handlers.set(req.topic, new Set());
        handlers.get(req.topic).add(handler);
        return { close: async () => void handlers.get(req.topic).delete(handler) };
      },
      async close() {},
    };
  },
};
`;

describe("shutdown with a pubsub plugin that has no drain", () => {
  test("SIGTERM while a delivery is in flight: the sidecar waits for the app's answer and hands it to the plugin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-legacy-pubsub-"));
    const answers = join(dir, "answers.txt");
    mkdirSync(join(dir, "plugins"));
    writeFileSync(join(dir, "plugins", "legacy-pubsub.js"), LEGACY_PUBSUB_PLUGIN);
    const res = resourcesDir({ "legacy.yaml": componentYaml("legacy", "pubsub.legacy", { answersFile: answers }) });
    const answer = Promise.withResolvers<void>();
    let posts = 0;
    const hport = await freePort();
    const app = Bun.serve({
      port: hport,
      hostname: "127.0.0.1",
      async fetch(req) {
        if (req.method === "GET") return Response.json([{ pubsubname: "legacy", topic: "jobs", route: "/jobs" }]);
        posts++;
        await answer.promise;
        return Response.json({ status: "SUCCESS" });
      },
    });
    const sc = await startSidecar({ appId: "pubsub-legacy", args: ["--app-port", String(hport), "--resources-path", res, "--plugins-path", join(dir, "plugins")] });
    try {
      await waitFor(async () => ((await (await sc.http("/v1.0/metadata")).json()) as any).subscriptions.length === 1, "subscribed");
      const pub = await sc.http("/v1.0/publish/legacy/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: '{"job":1}' });
      expect(pub.status).toBe(204);
      await waitFor(() => posts === 1, "the delivery at the app");
      const exiting = sc.stop(); // SIGTERM
      await Bun.sleep(300); // the sidecar is stopping while its app still works on the event
      answer.resolve();
      expect(await exiting).toBe(0);
      expect(readFileSync(answers, "utf8")).toBe("success\n");
    } finally {
      await sc.stop();
      app.stop(true);
      rmSync(dir, { recursive: true, force: true });
      rmSync(res, { recursive: true, force: true });
    }
  });
});
