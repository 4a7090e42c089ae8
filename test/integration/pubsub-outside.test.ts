// The Rapr extension: subscribers outside the cluster read topics through a node over WebSocket (HTTP port) and
// Connect server streaming (gRPC port), with HMAC tokens scoped to topics, CEL filters and bounded buffers.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { CommunicationProtocolEnum, DaprClient, LogLevel } from "@dapr/dapr";
import { signSubscriberToken } from "../../src/blocks/pubsub/outside/tokens.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { waitFor } from "../support/ports.js";
import { connectSubscribe, stalledWsSubscriber, wsSubscribe } from "../pubsub/outside-clients.js";
import { filterGenerator, nestedAll } from "../pubsub/costly-filters.js";
import { fuzzRandom } from "../support/fuzz.js";
import { runRapr } from "../support/rapr-cli.js";

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

  test("costly filters are refused at subscribe time (4400 / 400 / InvalidArgument) with the bound they break", async () => {
    const tooLong = nestedAll(3, 200); // the 2,114-character filter: 8 million iterations per event
    const tooCostly = nestedAll(5, 60); // under the size limit, ~10^9 iterations
    for (const [filter, reason] of [[tooLong, "CEL expression too long"], [tooCostly, "CEL expression too costly"]]) {
      const err = await wsSubscribe(sc.httpPort, "pubsub", "news", newsToken, filter).then(() => "", (e: Error) => e.message);
      expect(err).toStartWith(`WebSocket closed: 4400 {"errorCode":"ERR_MALFORMED_REQUEST","message":"${reason}`);
      const res = await sc.http(`/v1.0-rapr/subscribe/pubsub/news?${new URLSearchParams({ token: newsToken, filter })}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toStartWith(reason);
      const connect = connectSubscribe(sc.grpcPort, { pubsubName: "pubsub", topic: "news", token: newsToken, filter });
      await waitFor(() => connect.error || connect.confirmed, "Connect refusal");
      expect(connect.error).toBeInstanceOf(ConnectError);
      expect((connect.error as ConnectError).code).toBe(Code.InvalidArgument);
      expect((connect.error as ConnectError).rawMessage).toStartWith(reason);
    }
  });

  test("a filter that runs out of its budget on an event does not match it, and holds up neither the publisher, other subscribers nor other callers", async () => {
    const token = signSubscriberToken(SECRET, { sub: "budget", topics: ["pubsub/lists"] });
    // Accepted (lists from the event are assumed to be short), quadratic in the event's list.
    const costly = await wsSubscribe(sc.httpPort, "pubsub", "lists", token, "event.data.a.all(x, event.data.a.all(y, y >= 0))");
    const plain = await wsSubscribe(sc.httpPort, "pubsub", "lists", token);
    const publish = (a: number[]) => sc.http("/v1.0/publish/pubsub/lists", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a }) });
    expect((await publish(Array.from({ length: 20_000 }, (_, i) => i))).status).toBe(204);
    expect((await sc.http("/v1.0/healthz")).status).toBe(204);
    expect((await publish([1, 2, 3])).status).toBe(204);
    await waitFor(() => plain.frames.length === 2 && costly.frames.length === 1, "deliveries after the over-budget event");
    expect(plain.frames.map((f) => f.event.data.a.length)).toEqual([20_000, 3]);
    expect(costly.frames[0].event.data.a).toEqual([1, 2, 3]);
    costly.close();
    plain.close();
  });

  test("a topic's distinct filters are capped per node (4429 ERR_PUBSUB_FILTER_LIMIT); a shared filter still joins, and many costly filters on one large event hold up neither healthz nor later events", async () => {
    const token = signSubscriberToken(SECRET, { sub: "many", topics: ["pubsub/capped"] });
    const open: { close(): void; frames: { event: any }[] }[] = [];
    try {
      // Cheap as estimated, each spends a whole budget on a large event: 64 of them were 64 budgets per event.
      for (let i = 0; i < 64; i++) open.push(await wsSubscribe(sc.httpPort, "pubsub", "capped", token, `event.data.a.exists(x, x == ${-1 - i})`));
      const err = await wsSubscribe(sc.httpPort, "pubsub", "capped", token, "event.data.a.size() > 100").then(() => "", (e: Error) => e.message);
      expect(err).toStartWith('WebSocket closed: 4429 {"errorCode":"ERR_PUBSUB_FILTER_LIMIT"');
      open.push(await wsSubscribe(sc.httpPort, "pubsub", "capped", token, "event.data.a.exists(x, x == -1)"));
      const plain = await wsSubscribe(sc.httpPort, "pubsub", "capped", token);
      open.push(plain);
      const publish = (a: number[]) => sc.http("/v1.0/publish/pubsub/capped", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a }) });
      expect((await publish(Array.from({ length: 50_000 }, (_, i) => i))).status).toBe(204);
      let healthy = 0;
      for (let i = 0; i < 20; i++) if ((await sc.http("/v1.0/healthz")).status === 204) healthy++;
      expect(healthy).toBe(20);
      expect((await publish([-1])).status).toBe(204);
      await waitFor(() => plain.frames.length === 2, "both events reach the subscriber without a filter");
      await waitFor(() => open[0].frames.length === 1 && open[64].frames.length === 1, "the small event matches the shared filter");
    } finally {
      for (const s of open) s.close();
    }
  });

  test("token claims of the wrong shape are a bad token (4401 / 401 / Unauthenticated), never an internal error", async () => {
    const bad = [{ sub: "x", topics: [null, 5] }, null, [1], { sub: "x" }, { sub: "x", topics: [] }, { sub: 5, topics: ["*"] }, { sub: "x", topics: ["*"], exp: "never" }, { sub: "x", topics: ["no-slash"] }];
    for (const claims of bad) {
      const token = signSubscriberToken(SECRET, claims as never);
      const err = await wsSubscribe(sc.httpPort, "pubsub", "news", token).then(() => "", (e: Error) => e.message);
      expect(err).toStartWith('WebSocket closed: 4401 {"errorCode":"ERR_API_UNAUTHORIZED"');
      expect((await sc.http(`/v1.0-rapr/subscribe/pubsub/news?token=${token}`)).status).toBe(401);
      const connect = connectSubscribe(sc.grpcPort, { pubsubName: "pubsub", topic: "news", token });
      await waitFor(() => connect.error || connect.confirmed, "Connect refusal");
      expect((connect.error as ConnectError).code).toBe(Code.Unauthenticated);
    }
  });

  test("seeded fuzz: random filters are accepted or refused with 4400, never an internal error, and the node keeps serving", async () => {
    const fuzz = fuzzRandom(20261208);
    const randomFilter = filterGenerator(fuzz);
    const token = signSubscriberToken(SECRET, { sub: "fuzz", topics: ["pubsub/fuzz"] });
    const open: { close(): void; frames: unknown[] }[] = [];
    const failures: string[] = [];
    for (let i = 0; i < 40; i++) {
      const filter = randomFilter();
      const outcome = await wsSubscribe(sc.httpPort, "pubsub", "fuzz", token, filter).then((s) => (open.push(s), "subscribed"), (e: Error) => e.message);
      if (outcome !== "subscribed" && !outcome.startsWith("WebSocket closed: 4400 ")) failures.push(`${filter}: ${outcome}`);
    }
    const items = Array.from({ length: 500 }, (_, i) => (fuzz.rand() < 0.5 ? i : "b".repeat(i % 7)));
    for (const n of [0, 3, 500]) {
      const res = await sc.http("/v1.0/publish/pubsub/fuzz", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ items: items.slice(0, n), s: "ab", n }) });
      expect(res.status).toBe(204);
      expect((await sc.http("/v1.0/healthz")).status).toBe(204);
    }
    if (failures.length) console.error(`seed ${fuzz.seed}:\n${failures.slice(0, 5).join("\n")}`);
    expect(failures).toEqual([]);
    for (const s of open) s.close();
    await waitFor(async () => (await extended())["rapr.outside.topics"] === "0", "fuzz subscribers detached");
  });
});


describe("subscriber token secret strength (rapr binary)", () => {
  for (const [how, args, env] of [
    ["--subscriber-token-secret s3cret", ["--subscriber-token-secret", "s3cret"], {}],
    ["RAPR_SUBSCRIBER_TOKEN_SECRET=aaaaaaaaaaaaaaaaaaaa", [], { RAPR_SUBSCRIBER_TOKEN_SECRET: "aaaaaaaaaaaaaaaaaaaa" }],
  ] as const) {
    test(`${how} is refused before start with exit 2 and how to make a good one`, async () => {
      const r = await runRapr(["run", "--app-id", "weak-edge", ...args], { env: { ...env } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("subscriber token secret too weak");
      expect(r.stderr).toContain("rapr cluster-secret");
    });
  }
});
