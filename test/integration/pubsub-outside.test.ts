// The Rapr extension: subscribers outside the cluster read topics through a node over WebSocket (HTTP port) and
// Connect server streaming (gRPC port), with HMAC tokens scoped to topics, CEL filters and bounded buffers.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CommunicationProtocolEnum, DaprClient, LogLevel } from "@dapr/dapr";
import { signSubscriberToken } from "../../src/blocks/pubsub/outside/tokens.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { waitFor } from "../support/ports.js";
import { connectSubscribe, stalledWsSubscriber, wsSubscribe } from "../pubsub/outside-clients.js";

setDefaultTimeout(30_000);

const SECRET = "test-secret-for-outside-subscribers";
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };
let sc: Sidecar;
let client: DaprClient;
const newsToken = signSubscriberToken(SECRET, { sub: "reader", topics: ["pubsub/news", "pubsub/feed.*"] });

beforeAll(async () => {
  sc = await startSidecar({ appId: "edge", args: ["--subscriber-token-secret", SECRET, "--subscriber-buffer", "16"] });
  client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(sc.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger: { level: LogLevel.Error, service: quiet } });
});
afterAll(async () => {
  await client?.stop();
  await sc?.stop();
});

const extended = async () => ((await (await sc.http("/v1.0/metadata")).json()) as any).extended as Record<string, string>;

describe("subscribers outside the cluster", () => {
  test("refusals close the WebSocket with 4000 + status: no token 4401, forged or expired 4401, topic out of scope 4403, unknown pubsub 4404, bad filter 4400", async () => {
    const forged = signSubscriberToken("another-secret", { sub: "mallory", topics: ["*"] });
    const expired = signSubscriberToken(SECRET, { sub: "late", topics: ["*"], exp: Math.floor(Date.now() / 1000) - 10 });
    const any = signSubscriberToken(SECRET, { sub: "x", topics: ["*"] });
    const cases: [string, string, string, string | undefined, number][] = [
      ["pubsub", "news", "", undefined, 4401],
      ["pubsub", "news", forged, undefined, 4401],
      ["pubsub", "news", expired, undefined, 4401],
      ["pubsub", "secret", newsToken, undefined, 4403],
      ["nope", "news", any, undefined, 4404],
      ["pubsub", "news", newsToken, "event.type ==", 4400],
    ];
    for (const [pubsub, topic, token, filter, code] of cases) {
      const err = await wsSubscribe(sc.httpPort, pubsub, topic, token, filter).then(() => undefined, (e: Error) => e.message);
      expect(err).toStartWith(`WebSocket closed: ${code}`);
      // A plain GET (no upgrade) gets the same answer as an HTTP status.
      const q = new URLSearchParams({ token, ...(filter ? { filter } : {}) });
      expect((await sc.http(`/v1.0-rapr/subscribe/${pubsub}/${topic}?${q}`)).status).toBe(code - 4000);
    }
    expect((await sc.http(`/v1.0-rapr/subscribe/pubsub/news?token=${newsToken}`)).status).toBe(426);
  });

  test("WebSocket subscribers get the events the SDK publishes; a CEL filter narrows them", async () => {
    const all = await wsSubscribe(sc.httpPort, "pubsub", "news", newsToken);
    const alerts = await wsSubscribe(sc.httpPort, "pubsub", "news", newsToken, 'event.data.kind == "alert"');
    for (const kind of ["info", "alert", "info", "alert"]) await client.pubsub.publish("pubsub", "news", { kind });
    await waitFor(() => all.frames.length === 4 && alerts.frames.length === 2, "WebSocket deliveries");
    expect(all.frames.map((f) => f.event.data.kind)).toEqual(["info", "alert", "info", "alert"]);
    expect(alerts.frames.every((f) => f.event.data.kind === "alert")).toBe(true);
    expect(all.frames[0].event).toMatchObject({ specversion: "1.0", source: "edge", topic: "news", pubsubname: "pubsub" });
    expect(all.frames[0].dropped).toBe(0);
    all.close();
    alerts.close();
  });

  test("Connect server streaming on the gRPC port delivers with the token in the request; wildcard scopes work", async () => {
    const sub = connectSubscribe(sc.grpcPort, { pubsubName: "pubsub", topic: "feed.eu", token: newsToken });
    await waitFor(() => sub.confirmed || sub.error, "Connect subscription");
    expect(sub.error).toBeUndefined();
    await client.pubsub.publish("pubsub", "feed.eu", { n: 1 });
    await client.pubsub.publish("pubsub", "feed.eu", { n: 2 });
    await waitFor(() => sub.events.length === 2, "Connect deliveries");
    expect(sub.events.map((e) => e.ce.data.n)).toEqual([1, 2]);
    await sub.close();
    const denied = connectSubscribe(sc.grpcPort, { pubsubName: "pubsub", topic: "secret", token: newsToken });
    await waitFor(() => denied.error, "denied subscription");
    expect(String(denied.error)).toContain("does not cover");
  });

  test("subscribers that stop reading never hold back the others: with a filter they lose events (counted), without one they are cut off", async () => {
    const token = signSubscriberToken(SECRET, { sub: "slow", topics: ["pubsub/bulky"] });
    const stalledFiltered = await stalledWsSubscriber(sc.httpPort, "pubsub", "bulky", token, "event.data.i >= 0");
    const stalledBroadcast = await stalledWsSubscriber(sc.httpPort, "pubsub", "bulky", token);
    const fast = await wsSubscribe(sc.httpPort, "pubsub", "bulky", token);
    await waitFor(async () => (await extended())["rapr.outside.clients"] === "3", "three subscribers attached");
    const dropsBefore = Number((await extended())["rapr.outside.dropped"]);
    const big = "x".repeat(64 * 1024);
    const N = 200;
    for (let i = 0; i < N; i++) {
      const res = await sc.http("/v1.0/publish/pubsub/bulky", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ i, big }) });
      expect(res.status).toBe(204);
    }
    await waitFor(() => fast.frames.length === N, "the fast subscriber got everything", 20_000);
    expect(fast.frames.map((f) => f.event.data.i)).toEqual(Array.from({ length: N }, (_, i) => i));
    await waitFor(async () => Number((await extended())["rapr.outside.dropped"]) > dropsBefore, "drops counted for the stalled filtered subscriber");
    await waitFor(async () => (await extended())["rapr.outside.clients"] === "2", "the stalled broadcast subscriber cut off", 20_000);
    stalledFiltered.destroy();
    stalledBroadcast.destroy();
    fast.close();
    await waitFor(async () => (await extended())["rapr.outside.clients"] === "0", "clients detached");
    expect((await extended())["rapr.outside.topics"]).toBe("0");
  });
});
