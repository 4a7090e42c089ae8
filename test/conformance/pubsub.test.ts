// One conformance suite for the PubSub contract, run against every pubsub plugin (a real nats-server included).
import { afterAll, describe, expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import pubsubInMemory from "../../plugins/pubsub.in-memory/index.js";
import pubsubNats from "../../plugins/pubsub.nats/index.js";
import pubsubRedis from "../../plugins/pubsub.redis/index.js";
import { Redis } from "ioredis";
import pubsubMqtt3 from "../../plugins/pubsub.mqtt3/index.js";
import type { HandlerResult, PubSub, PubSubFeature, PubSubMessage, Subscription } from "../../src/components/contracts/pubsub.js";
import { parseMetadata } from "../../src/components/metadata-schema.js";
import type { ComponentPlugin } from "../../src/components/plugin.js";
import { silentLogger } from "../../src/observability/logger.js";
import { missing, MQTT_URL, NATS_URL, REDIS_HOST } from "../support/backends.js";
import { waitFor } from "../support/ports.js";

const noNats = await missing("nats");
const noMqtt = await missing("mqtt");
const noRedis = await missing("redis");
const RUN = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const STREAM_PREFIX = `raprconf-${RUN}-`;

async function create(plugin: ComponentPlugin<any, any>, raw: Record<string, string>): Promise<PubSub> {
  return (await plugin.create(parseMetadata(plugin.metadata, raw), { name: "pubsub", appId: "conformance", dataDir: tmpdir(), logger: silentLogger })) as PubSub;
}

/** Each subject: a factory for a fresh instance with the given delivery limits (instances of one subject share a broker). */
type Factory = (opts: { maxDeliver?: number }) => Promise<PubSub>;

const fast = { redeliveryInitialDelay: "10ms", redeliveryMaxDelay: "50ms" };
let sharedMemory: PubSub | undefined;
const subjects: [string, Factory][] = [
  // In-process: instances in one process are one broker only if they are the same instance.
  ["pubsub.in-memory", async (o) => (o.maxDeliver ? create(pubsubInMemory, { ...fast, maxDeliver: String(o.maxDeliver) }) : (sharedMemory ??= await create(pubsubInMemory, fast)))],
  ["pubsub.nats", (o) => create(pubsubNats, { natsURL: NATS_URL, streamPrefix: STREAM_PREFIX, storage: "memory", ackWait: "2s", maxDeliver: String(o.maxDeliver ?? -1), ...fast })],
  ["pubsub.redis", (o) => create(pubsubRedis, { redisHost: REDIS_HOST, processingTimeout: "2s", redeliverInterval: "100ms", maxDeliver: String(o.maxDeliver ?? -1), ...fast })],
  ["pubsub.mqtt3", (o) => create(pubsubMqtt3, { url: MQTT_URL, maxDeliver: String(o.maxDeliver ?? -1), ...fast })],
  ["pubsub.mqtt3 (MQTT 5)", (o) => create(pubsubMqtt3, { url: MQTT_URL, protocolVersion: "5", maxDeliver: String(o.maxDeliver ?? -1), ...fast })],
];
/** Subjects that need a broker this machine may lack. */
const unavailable = (name: string) => (name === "pubsub.nats" && noNats) || (name.startsWith("pubsub.mqtt3") && noMqtt) || (name === "pubsub.redis" && noRedis);

const opened: PubSub[] = [];
afterAll(async () => {
  await Promise.allSettled(opened.map((p) => p.close()));
  if (!noRedis) {
    const redis = new Redis(`redis://${REDIS_HOST}`);
    const streams = await redis.keys(`t${RUN}-*`);
    if (streams.length) await redis.del(...streams);
    redis.disconnect();
  }
  if (noNats) return;
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for await (const s of jsm.streams.list()) if (s.config.name.startsWith(STREAM_PREFIX)) await jsm.streams.delete(s.config.name);
  await nc.close();
});

const enc = new TextEncoder();
const dec = new TextDecoder();
let counter = 0;
const topicName = () => `t${RUN}-${++counter}`;
const body = (m: PubSubMessage) => dec.decode(m.data);

for (const [name, factory] of subjects) {
  const make: Factory = async (o) => {
    const p = await factory(o);
    opened.push(p);
    return p;
  };

  /** The subject's features, read off an instance once (an unavailable broker has none). */
  const features: PubSubFeature[] = unavailable(name) ? [] : await make({}).then((p) => p.features());
  /** A case that asserts what only plugins with `feature` promise. */
  const withFeature = (feature: PubSubFeature) => test.skipIf(!features.includes(feature));

  describe.skipIf(unavailable(name))(`${name} conformance`, () => {
    test("a durable subscriber receives what is published after it subscribed, with its content type", async () => {
      const ps = await make({});
      const topic = topicName();
      const got: PubSubMessage[] = [];
      const sub = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (got.push(m), "success"));
      await ps.publish({ topic, data: enc.encode('{"n":1}'), contentType: "application/json" });
      await waitFor(() => got.length === 1, "delivery");
      expect(body(got[0])).toBe('{"n":1}');
      if (features.includes("CONTENT_TYPE")) expect(got[0].contentType).toBe("application/json");
      expect(got[0].deliveryAttempt).toBe(1);
      await sub.close();
    });

    test("retry redelivers with a higher attempt number; success stops redelivery", async () => {
      const ps = await make({});
      const topic = topicName();
      const attempts: number[] = [];
      const sub = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => {
        attempts.push(m.deliveryAttempt);
        return m.deliveryAttempt < 3 ? "retry" : "success";
      });
      await ps.publish({ topic, data: enc.encode("x") });
      await waitFor(() => attempts.length >= 3, "three attempts");
      await Bun.sleep(200); // nothing further may arrive after success
      expect(attempts).toEqual([1, 2, 3]);
      await sub.close();
    });

    test("drop acknowledges without redelivery", async () => {
      const ps = await make({});
      const topic = topicName();
      const seen: string[] = [];
      const sub = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => {
        seen.push(body(m));
        return body(m) === "bad" ? "drop" : "success";
      });
      await ps.publish({ topic, data: enc.encode("bad") });
      await ps.publish({ topic, data: enc.encode("good") });
      await waitFor(() => seen.includes("good"), "second message");
      await Bun.sleep(200);
      expect(seen.filter((s) => s === "bad").length).toBe(1);
      await sub.close();
    });

    test("maxDeliver bounds the attempts and the last one says it is the last", async () => {
      const ps = await make({ maxDeliver: 3 });
      const topic = topicName();
      const seen: PubSubMessage[] = [];
      const sub = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (seen.push(m), "retry"));
      await ps.publish({ topic, data: enc.encode("poison") });
      await waitFor(() => seen.length >= 3, "three attempts");
      await Bun.sleep(300);
      expect(seen.map((m) => m.deliveryAttempt)).toEqual([1, 2, 3]);
      expect(seen[2].maxAttempts).toBe(3);
      await sub.close();
    });

    test("competing consumers in one group share messages; another group gets every message", async () => {
      const ps = await make({});
      const topic = topicName();
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      const subs = await Promise.all([
        ps.subscribe({ topic, mode: "durable", group: "shared" }, async (m) => (a.push(body(m)), "success")),
        ps.subscribe({ topic, mode: "durable", group: "shared" }, async (m) => (b.push(body(m)), "success")),
        ps.subscribe({ topic, mode: "durable", group: "other" }, async (m) => (other.push(body(m)), "success")),
      ]);
      const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
      for (const s of sent) await ps.publish({ topic, data: enc.encode(s) });
      await waitFor(() => a.length + b.length === sent.length && other.length === sent.length, "all deliveries");
      await Bun.sleep(100);
      expect([...a, ...b].sort()).toEqual([...sent].sort());
      expect([...other].sort()).toEqual([...sent].sort());
      await Promise.all(subs.map((s) => s.close()));
    });

    /**
     * A member whose handler never answers gets `text`; once `leave(first)` has run, the next member of the group gets
     * it: exactly it, once.
     */
    async function handedBackToNextMember(text: string, leave: (first: Subscription) => Promise<void>) {
      const ps = await make({});
      const topic = topicName();
      let hung = 0;
      const first = await ps.subscribe({ topic, mode: "durable", group: "g1" }, () => (hung++, new Promise<HandlerResult>(() => {})));
      await ps.publish({ topic, data: enc.encode(text) });
      await waitFor(() => hung === 1, "the first member got it");
      await leave(first);
      const got: string[] = [];
      const second = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (got.push(body(m)), "success"));
      await waitFor(() => got.length === 1, "redelivery to the next member", 15_000);
      expect(got).toEqual([text]);
      await second.close();
    }

    withFeature("HAND_BACK")("a message in flight when its subscriber leaves is delivered to the next member of the group", async () => {
      await handedBackToNextMember("survivor", (first) => first.close());
    });

    test("drain waits for the handler in flight and settles its answer: nothing is redelivered afterwards", async () => {
      const ps = await make({});
      const topic = topicName();
      const answer = Promise.withResolvers<void>();
      let calls = 0;
      const first = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async () => {
        calls++;
        await answer.promise;
        return "success";
      });
      await ps.publish({ topic, data: enc.encode("in-flight") });
      await waitFor(() => calls === 1, "the handler got it");
      let drained = false;
      const draining = first.drain!().then(() => (drained = true));
      await Bun.sleep(100);
      expect(drained).toBe(false); // the handler has not answered yet
      answer.resolve();
      await draining;
      await first.close();
      const got: string[] = [];
      const second = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (got.push(body(m)), "success"));
      await ps.publish({ topic, data: enc.encode("next") });
      await waitFor(() => got.includes("next"), "the next message");
      await Bun.sleep(200); // a message handed back at close would be redelivered by now
      expect(got).toEqual(["next"]);
      expect(calls).toBe(1);
      await second.close();
    });

    test("once drain starts the member gets no new message: what is published meanwhile goes to another member", async () => {
      const ps = await make({});
      const topic = topicName();
      const answer = Promise.withResolvers<void>();
      const a: string[] = [];
      const b: string[] = [];
      const first = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => {
        a.push(body(m));
        await answer.promise;
        return "success";
      });
      await ps.publish({ topic, data: enc.encode("m0") });
      await waitFor(() => a.length === 1, "the first member is busy");
      const draining = first.drain!();
      const second = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (b.push(body(m)), "success"));
      const sent = ["m1", "m2", "m3", "m4", "m5"];
      for (const s of sent) await ps.publish({ topic, data: enc.encode(s) });
      await waitFor(() => sent.every((s) => b.includes(s)), "the other member got everything published during the drain");
      expect(a).toEqual(["m0"]);
      answer.resolve();
      await draining;
      await first.close();
      await Bun.sleep(200);
      expect(a).toEqual(["m0"]);
      expect([...b].sort()).toEqual(sent);
      await second.close();
    });

    withFeature("HAND_BACK")("a drain still waiting on a handler that never answers ends when close() hands the message back", async () => {
      await handedBackToNextMember("unanswered", async (first) => {
        const draining = first.drain!();
        await first.close();
        await draining;
      });
    });

    withFeature("HAND_BACK")("a member held back by its in-flight limit hands back what it buffered when it drains: once each, not lost", async () => {
      const ps = await make({});
      const topic = topicName();
      const answer = Promise.withResolvers<void>();
      const a: string[] = [];
      const first = await ps.subscribe({ topic, mode: "durable", group: "g1", maxInFlight: 4 }, async (m) => {
        a.push(body(m));
        await answer.promise;
        return "success";
      });
      const sent = Array.from({ length: 30 }, (_, i) => `m${i}`);
      for (const s of sent) await ps.publish({ topic, data: enc.encode(s) });
      await waitFor(() => a.length === 4, "the first member is full");
      const draining = first.drain!();
      const b: PubSubMessage[] = [];
      const second = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (b.push(m), "success"));
      const rest = sent.filter((s) => !a.includes(s));
      await waitFor(() => rest.every((s) => b.some((m) => body(m) === s)), "the other member got all the first did not handle");
      answer.resolve();
      await draining;
      await first.close();
      await Bun.sleep(200);
      expect(b.map(body).sort()).toEqual([...rest].sort()); // each once: a message sent to a pull nobody reads comes back twice
      // Handed back at once is the second attempt; one that waited out ackWait in a dead pull request would be the third.
      expect(Math.max(...b.map((m) => m.deliveryAttempt))).toBeLessThanOrEqual(2);
      await second.close();
    });

    withFeature("HAND_BACK")("a drain cut short by its signal returns, and close() hands the unanswered message back", async () => {
      await handedBackToNextMember("unanswered", async (first) => {
        const cutShort = new AbortController();
        const draining = first.drain!(cutShort.signal);
        cutShort.abort();
        await draining;
        await first.drain!(cutShort.signal); // already aborted: returns too
        await first.close();
      });
    });

    test("an ephemeral subscriber's drain waits for its handler in flight, then it sees no more messages", async () => {
      const ps = await make({});
      const topic = topicName();
      const answer = Promise.withResolvers<void>();
      const seen: string[] = [];
      const sub = await ps.subscribe({ topic, mode: "ephemeral", group: "n1" }, async (m) => {
        seen.push(body(m));
        await answer.promise;
        return "success";
      });
      await Bun.sleep(50); // core subscriptions reach the server asynchronously
      await ps.publish({ topic, data: enc.encode("e0") });
      await waitFor(() => seen.length === 1, "the handler got it");
      let drained = false;
      const draining = sub.drain!().then(() => (drained = true));
      await Bun.sleep(100);
      expect(drained).toBe(false);
      answer.resolve();
      await draining;
      await ps.publish({ topic, data: enc.encode("e1") });
      await Bun.sleep(200);
      expect(seen).toEqual(["e0"]);
      await sub.close();
    });

    test("every ephemeral subscriber sees every message", async () => {
      const ps = await make({});
      const topic = topicName();
      const x: string[] = [];
      const y: string[] = [];
      const subs = await Promise.all([
        ps.subscribe({ topic, mode: "ephemeral", group: "n1" }, async (m) => (x.push(body(m)), "success")),
        ps.subscribe({ topic, mode: "ephemeral", group: "n2" }, async (m) => (y.push(body(m)), "success")),
      ]);
      await Bun.sleep(50); // core subscriptions reach the server asynchronously
      for (let i = 0; i < 5; i++) await ps.publish({ topic, data: enc.encode(`e${i}`) });
      await waitFor(() => x.length === 5 && y.length === 5, "ephemeral fan-out");
      expect(x).toEqual(["e0", "e1", "e2", "e3", "e4"]);
      await Promise.all(subs.map((s) => s.close()));
    });

    test("bulk publish delivers every entry and reports no failures", async () => {
      const ps = await make({});
      const topic = topicName();
      const got: string[] = [];
      const sub = await ps.subscribe({ topic, mode: "durable", group: "g1" }, async (m) => (got.push(body(m)), "success"));
      const res = await ps.bulkPublish(Array.from({ length: 10 }, (_, i) => ({ topic, data: enc.encode(`b${i}`) })));
      expect(res.failed).toEqual([]);
      await waitFor(() => got.length === 10, "bulk deliveries");
      expect(got.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`).sort());
      await sub.close();
    });
  });
}

describe.skipIf(noNats)("pubsub.nats core mode (jetstream=false)", () => {
  test("fire-and-forget: queue-group members share messages", async () => {
    const ps = await create(pubsubNats, { natsURL: NATS_URL, jetstream: "false" });
    opened.push(ps);
    const topic = topicName();
    const a: string[] = [];
    const b: string[] = [];
    await ps.subscribe({ topic, mode: "durable", group: "q" }, async (m) => (a.push(body(m)), "success"));
    await ps.subscribe({ topic, mode: "durable", group: "q" }, async (m) => (b.push(body(m)), "success"));
    await ps.ping!();
    for (let i = 0; i < 20; i++) await ps.publish({ topic, data: enc.encode(`c${i}`) });
    await waitFor(() => a.length + b.length === 20, "core deliveries");
    expect(new Set([...a, ...b]).size).toBe(20);
  });

  test("drain unsubscribes the queue-group member and waits for its handler in flight; the other member gets the rest", async () => {
    const ps = await create(pubsubNats, { natsURL: NATS_URL, jetstream: "false" });
    opened.push(ps);
    const topic = topicName();
    const answer = Promise.withResolvers<void>();
    const a: string[] = [];
    const b: string[] = [];
    const first = await ps.subscribe({ topic, mode: "durable", group: "q" }, async (m) => {
      a.push(body(m));
      await answer.promise;
      return "success";
    });
    await ps.ping!();
    await ps.publish({ topic, data: enc.encode("c0") });
    await waitFor(() => a.length === 1, "the first member is busy");
    await ps.subscribe({ topic, mode: "durable", group: "q" }, async (m) => (b.push(body(m)), "success"));
    let drained = false;
    const draining = first.drain!().then(() => (drained = true));
    await Bun.sleep(100);
    expect(drained).toBe(false);
    answer.resolve();
    await draining;
    for (let i = 1; i <= 5; i++) await ps.publish({ topic, data: enc.encode(`c${i}`) });
    await waitFor(() => b.length === 5, "the other member got the rest");
    expect(a).toEqual(["c0"]);
    await first.close();
  });
});

describe.skipIf(noMqtt)("pubsub.mqtt3", () => {
  const mqtt = async (raw: Record<string, string> = {}) => {
    const ps = await create(pubsubMqtt3, { url: MQTT_URL, ...raw });
    opened.push(ps);
    return ps;
  };

  test("subscriptions take the wildcards + and #; each message carries the topic it came on and whether it was retained", async () => {
    const ps = await mqtt();
    const base = `rapr-conf/${topicName()}`;
    const plus: PubSubMessage[] = [];
    const hash: PubSubMessage[] = [];
    await ps.subscribe({ topic: `${base}/+/temp`, mode: "durable", group: "g" }, async (m) => (plus.push(m), "success"));
    await ps.subscribe({ topic: `${base}/#`, mode: "durable", group: "g" }, async (m) => (hash.push(m), "success"));
    await ps.publish({ topic: `${base}/kitchen/temp`, data: enc.encode("21") });
    await ps.publish({ topic: `${base}/kitchen/light/level`, data: enc.encode("on") });
    await waitFor(() => plus.length === 1 && hash.length === 2, "wildcard deliveries");
    expect(plus.map((m) => [m.topic, body(m), m.metadata.retained])).toEqual([[`${base}/kitchen/temp`, "21", "false"]]);
    expect(hash.map((m) => m.topic).sort()).toEqual([`${base}/kitchen/light/level`, `${base}/kitchen/temp`]);
    expect(ps.features()).toContain("SUBSCRIBE_WILDCARDS");
  });

  test("retain (component or per request) keeps the last message for later subscribers", async () => {
    const ps = await mqtt();
    const topic = `rapr-conf/${topicName()}`;
    await ps.publish({ topic, data: enc.encode("kept"), metadata: { retain: "true" } });
    const got: PubSubMessage[] = [];
    await ps.subscribe({ topic, mode: "ephemeral", group: "e" }, async (m) => (got.push(m), "success"));
    await waitFor(() => got.length === 1, "the retained message");
    expect([body(got[0]!), got[0]!.metadata.retained]).toEqual(["kept", "true"]);
    await ps.publish({ topic, data: new Uint8Array(0), metadata: { retain: "true" } }); // clears it on the broker
    await expect(ps.publish({ topic, data: enc.encode("x"), metadata: { retain: "maybe" } })).rejects.toThrow('retain must be true or false, got "maybe"');
  });

  test("an app's own $share/{group}/{topic} is subscribed as it is", async () => {
    const ps = await mqtt();
    const topic = `rapr-conf/${topicName()}`;
    const a: string[] = [];
    const b: string[] = [];
    await ps.subscribe({ topic: `$share/mine/${topic}`, mode: "durable", group: "x" }, async (m) => (a.push(body(m)), "success"));
    await ps.subscribe({ topic: `$share/mine/${topic}`, mode: "durable", group: "y" }, async (m) => (b.push(body(m)), "success"));
    for (let i = 0; i < 10; i++) await ps.publish({ topic, data: enc.encode(`s${i}`) });
    await waitFor(() => a.length + b.length === 10, "shared deliveries");
    expect([...a, ...b].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`).sort());
  });

  test("a topic MQTT cannot take is refused with the reason, and the component goes on serving", async () => {
    const ps = await mqtt();
    await expect(ps.publish({ topic: "a/+/b", data: enc.encode("x") })).rejects.toThrow("wildcard");
    await expect(ps.publish({ topic: "a/#", data: enc.encode("x") })).rejects.toThrow("wildcard");
    await expect(ps.subscribe({ topic: "a/#/b", mode: "durable", group: "g" }, async () => "success")).rejects.toThrow('"#" must be a whole level');
    await expect(ps.subscribe({ topic: "a/b+", mode: "durable", group: "g" }, async () => "success")).rejects.toThrow('"+" must be a whole level');
    const topic = `rapr-conf/${topicName()}`;
    const got: string[] = [];
    await ps.subscribe({ topic, mode: "durable", group: "g" }, async (m) => (got.push(body(m)), "success"));
    await ps.publish({ topic, data: enc.encode("still here") });
    await waitFor(() => got.length === 1, "a delivery after the refusals");
  });

  test("init names the field at fault and never echoes the password; an unreachable broker fails init", async () => {
    await expect(mqtt({ url: "http://h" })).rejects.toThrow('unsupported scheme "http"');
    await expect(mqtt({ qos: "3" })).rejects.toThrow('metadata field "qos"');
    const err = await mqtt({ url: "tcp://user:s3cret@127.0.0.1:1" }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain("cannot connect to the MQTT broker at tcp://user:***@127.0.0.1:1");
    expect(err?.message).not.toContain("s3cret");
  });
});
