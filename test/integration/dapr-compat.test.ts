// Places where rapr answered differently from daprd, each checked with the official Dapr JS SDK against the compiled
// binary: rawPayload subscriptions (single and bulk, HTTP and gRPC apps), the message's metadata at a gRPC app,
// the ACTOR capability, grpc-message encoding, and /healthz waiting for the app channel.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import * as http2 from "node:http2";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { encodeGrpcMessage, recodeGrpcMessage } from "../../src/api/grpc/grpc-message.js";
import { sdkClient, sdkServer } from "../support/dapr-sdk.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";

setDefaultTimeout(40_000);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function sidecar(args: string[] = []): Promise<Sidecar> {
  const sc = await startSidecar({ args });
  cleanups.push(() => sc.stop());
  return sc;
}

async function subscribed(sc: Sidecar, n: number) {
  await waitFor(async () => ((await (await sc.http("/v1.0/metadata")).json()) as any).subscriptions.length >= n, `${sc.appId} subscribed`, 15_000);
}

interface Delivery {
  data: any;
  headers: Record<string, string>;
}

for (const [name, protocol] of [["HTTP", CommunicationProtocolEnum.HTTP], ["gRPC", CommunicationProtocolEnum.GRPC]] as const) {
  describe(`an ${name} app built with the SDK's DaprServer`, () => {
    test("rawPayload subscriptions get the broker's bytes (data_base64 / octet-stream entries); every delivery carries the message's metadata", async () => {
      const appPort = await freePort();
      const sc = await sidecar(["--app-port", String(appPort), "--app-protocol", name === "HTTP" ? "http" : "grpc"]);
      const server = sdkServer(sc, appPort, protocol);
      const got: Record<string, Delivery[]> = { raw: [], plain: [], rawBulk: [], ceBulk: [] };
      const into = (list: Delivery[]) => async (data: any, headers: any) => void list.push({ data, headers: headers ?? {} });
      const raw = { metadata: { rawPayload: "true" } };
      await server.pubsub.subscribeWithOptions("pubsub", "raw-sub", { ...raw, callback: into(got.raw) });
      await server.pubsub.subscribe("pubsub", "plain", into(got.plain));
      await server.pubsub.subscribeBulk("pubsub", "raw-bulk", into(got.rawBulk), { ...raw, maxMessagesCount: 10, maxAwaitDurationMs: 100 });
      await server.pubsub.subscribeBulk("pubsub", "ce-bulk", into(got.ceBulk), { maxMessagesCount: 10, maxAwaitDurationMs: 100 });
      await server.start();
      cleanups.push(() => server.stop());
      await subscribed(sc, 4);

      const client = sdkClient(sc, protocol);
      cleanups.push(() => client.stop());
      expect(await client.pubsub.publish("pubsub", "raw-sub", "Hello, world!", { metadata: { rawPayload: "true" } })).toEqual({});
      // An event published as a CloudEvent reaches a rawPayload subscriber as its bytes too (the whole envelope).
      expect(await client.pubsub.publish("pubsub", "raw-sub", { wrapped: true })).toEqual({});
      expect(await client.pubsub.publish("pubsub", "plain", { n: 1 }, { metadata: { "correlation-id": "msg-123" } })).toEqual({});
      expect(await client.pubsub.publish("pubsub", "raw-bulk", "raw entry", { metadata: { rawPayload: "true" } })).toEqual({});
      expect(await client.pubsub.publish("pubsub", "ce-bulk", { n: 2 })).toEqual({});
      await waitFor(() => got.raw.length >= 2 && got.plain.length && got.rawBulk.length && got.ceBulk.length, "every delivery");

      expect(got.raw.map((d) => d.data)).toContainEqual("Hello, world!");
      // The SDK decodes data_base64 and then unwraps the CloudEvent it holds.
      expect(got.raw.map((d) => d.data)).toContainEqual({ wrapped: true });
      expect(got.plain[0].data).toEqual({ n: 1 });
      expect(got.plain[0].headers).toMatchObject({ pubsubname: "pubsub", "correlation-id": "msg-123" });
      expect(got.rawBulk[0].data).toBe("raw entry");
      expect(got.ceBulk[0].data).toEqual({ n: 2 });
    });
  });
}

test("GET /v1.0/metadata lists a transactional state store with ETags as able to serve actors (ACTOR), over HTTP and gRPC", async () => {
  const sc = await sidecar();
  for (const protocol of [CommunicationProtocolEnum.HTTP, CommunicationProtocolEnum.GRPC]) {
    const client = sdkClient(sc, protocol);
    const meta: any = await client.metadata.get();
    const store = meta.components.find((c: any) => c.name === "statestore");
    expect(store.capabilities).toEqual(["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API", "ACTOR"]);
    await client.stop();
  }
});

describe("grpc-message", () => {
  test("is encoded as the gRPC spec says: only bytes outside printable ASCII, and %", () => {
    expect(encodeGrpcMessage("unknown service or method /a.B/C; see docs")).toBe("unknown service or method /a.B/C; see docs");
    expect(encodeGrpcMessage("100% ü\n")).toBe("100%25 %C3%BC%0A");
    expect(recodeGrpcMessage("unknown%20service%20%2Fa%3Bb")).toBe("unknown service /a;b");
    expect(recodeGrpcMessage("%E0%A4%A")).toBe("%E0%A4%A"); // unreadable: left as it came
  });

  test("errors of the gRPC API carry readable messages, whichever path answers them", async () => {
    const sc = await sidecar();
    const call = (path: string, contentType = "application/grpc", message = new Uint8Array()) =>
      new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${sc.grpcPort}`);
        session.on("error", reject);
        const req = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
        let head: http2.IncomingHttpHeaders = {};
        req.on("response", (h) => (head = h));
        req.on("trailers", (t) => (head = { ...head, ...t }));
        req.on("end", () => (session.close(), resolve(head)));
        req.on("error", reject);
        req.resume();
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(message.length, 1);
        req.end(Buffer.concat([prefix, message]));
      });
    // The proxy fallback (no dapr-app-id).
    const unknown = await call("/foo.Bar/Baz");
    expect(unknown["grpc-message"]).toBe("unknown service or method /foo.Bar/Baz; to reach an app's own gRPC service, send dapr-app-id metadata");
    // The direct unary path: GetState of a store named in the (empty) request.
    const state = await call("/dapr.proto.runtime.v1.Dapr/GetState");
    expect(state["grpc-status"]).not.toBe("0");
    expect(String(state["grpc-message"])).not.toMatch(/%20|%2F|%3B/);
    // Connect's handler (the JSON codec is not on the direct path): its encodeURIComponent form is recoded.
    const viaConnect = await call("/dapr.proto.runtime.v1.Dapr/GetState", "application/grpc+json", Buffer.from(JSON.stringify({ storeName: "a/b;c ü", key: "k" })));
    expect(viaConnect["grpc-status"]).not.toBe("0");
    expect(viaConnect["grpc-message"]).toContain("a/b;c %C3%BC");

    // The SDK shows the store's name as given, non-ASCII and % included.
    const client = sdkClient(sc, CommunicationProtocolEnum.GRPC);
    const err = await client.state.get("nö%/store;x", "k").then(() => undefined, (e: Error) => e);
    await client.stop();
    expect(String(err?.message)).toContain("nö%/store;x");
  });
});

describe("/v1.0/healthz", () => {
  test("waits for the app's port; /v1.0/healthz/outbound and the SDK are ready before the app", async () => {
    const appPort = await freePort();
    const sc = await sidecar(["--app-port", String(appPort)]);
    const health = await sc.http("/v1.0/healthz");
    expect(health.status).toBe(500);
    expect(await health.json()).toEqual({ errorCode: "ERR_HEALTH_NOT_READY", message: "dapr is not ready" });
    expect((await sc.http("/v1.0/healthz/outbound")).status).toBe(204);
    const client = sdkClient(sc, CommunicationProtocolEnum.HTTP);
    await client.start(); // the SDK waits for the sidecar, not for the app
    expect(((await client.metadata.get()) as any).id).toBe(sc.appId);
    await client.stop();

    const app = Bun.serve({ port: appPort, hostname: "127.0.0.1", fetch: () => new Response("") });
    cleanups.push(() => app.stop(true));
    await waitFor(async () => (await sc.http("/v1.0/healthz")).status === 204, "healthz once the app listens");
  });

  test("is ready at once without --app-port", async () => {
    const sc = await sidecar();
    expect((await sc.http("/v1.0/healthz")).status).toBe(204);
  });
});
