// pubsub.nats: NATS JetStream (durable, at-least-once) or core NATS (jetstream=false: fire-and-forget).
// One stream per topic ("{streamPrefix}{topic}" capturing subject "{subjectPrefix}{topic}") and one durable pull
// consumer per consumer group (the app id), both created on demand; explicit acks, maxDeliver, ackWait.
import { headers as natsHeaders, nanos, type NatsConnection, type Subscription as NatsSubscription } from "@nats-io/transport-node";
import {
  AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType,
  type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
} from "@nats-io/jetstream";
import { field, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type PluginContext } from "../../src/components/plugin.js";
import {
  publishEach,
  redeliveryDelayMs,
  type BulkPublishResult, type MessageHandler, type PublishRequest, type PubSub, type PubSubFeature,
  type SubscribeRequest, type Subscription,
} from "../../src/components/contracts/pubsub.js";
import { natsName } from "./names.js";
import { connectCoalesced } from "./connect.js";
import { InFlight, settledOrAborted, settlesWithin } from "../../src/resiliency/sleep.js";

const CLOUDEVENT_JSON = "application/cloudevents+json";
/** At close, how long each step (unsubscribing, the consume loop ending, a flush) may take before close goes on. */
const CLOSE_STEP_MS = 1_000;

/** Every subscription of this plugin drains. */
type Sub = Required<Subscription>;

const metadata = {
  natsURL: field.string({ required: true, aliases: ["url", "servers"] }),
  jetstream: field.bool({ default: true }),
  streamPrefix: field.string({ default: "rapr-" }),
  subjectPrefix: field.string({ default: "" }),
  storage: field.string({ default: "file", oneOf: ["file", "memory"] }),
  maxAge: field.duration({ default: 0 }),
  ackWait: field.duration({ default: 30_000, min: 1 }),
  maxDeliver: field.int({ default: -1 }),
  maxAckPending: field.int({ default: 1000, min: 1 }),
  deliverPolicy: field.string({ default: "all", oneOf: ["all", "new", "last"] }),
  redeliveryInitialDelay: field.duration({ default: 100 }),
  redeliveryMaxDelay: field.duration({ default: 10_000 }),
  publishTimeout: field.duration({ default: 5_000, min: 1 }),
  name: field.string({ default: "" }),
};
type Md = MetadataOf<typeof metadata>;

class NatsPubSub implements PubSub {
  private readonly js?: JetStreamClient;
  private readonly knownStreams = new Map<string, Promise<string>>();
  /** Topics whose stream is known to exist: publishing to them needs no wait. */
  private readonly readyTopics = new Set<string>();
  private readonly subs = new Set<Sub>();

  constructor(private readonly nc: NatsConnection, private readonly jsm: JetStreamManager | undefined, private readonly md: Md) {
    if (jsm) this.js = jetstream(nc);
  }

  features(): PubSubFeature[] {
    return this.js ? ["BULK_PUBLISH", "DURABLE", "EPHEMERAL", "COMPETING_CONSUMERS", "CONTENT_TYPE", "HAND_BACK"] : ["BULK_PUBLISH", "EPHEMERAL", "COMPETING_CONSUMERS", "CONTENT_TYPE"];
  }

  private subject(topic: string) {
    return this.md.subjectPrefix + topic;
  }

  /** The topic's stream, created on first use; resolves to its name. */
  private ensureStream(topic: string): Promise<string> {
    let p = this.knownStreams.get(topic);
    if (!p) {
      p = this.createStream(topic);
      this.knownStreams.set(topic, p);
      p.then(() => this.readyTopics.add(topic), () => this.knownStreams.delete(topic));
    }
    return p;
  }

  /** The stream that already captures the topic's subject (created by anyone), else a new "{streamPrefix}{topic}". */
  private async createStream(topic: string): Promise<string> {
    const subject = this.subject(topic);
    const existing = await this.jsm!.streams.find(subject).catch(() => undefined);
    if (existing) return existing;
    const name = natsName(this.md.streamPrefix + topic);
    try {
      await this.jsm!.streams.add({
        name,
        subjects: [subject],
        storage: this.md.storage === "memory" ? StorageType.Memory : StorageType.File,
        max_age: this.md.maxAge ? nanos(this.md.maxAge) : 0,
      });
    } catch (err) {
      // Another instance created it a moment ago.
      const raced = await this.jsm!.streams.find(subject).catch(() => undefined);
      if (!raced) throw err;
      return raced;
    }
    return name;
  }

  async publish(req: PublishRequest): Promise<void> {
    // CloudEvents (the common case) travel without headers: a message with no Content-Type is read as one.
    let headers;
    if (req.contentType && req.contentType !== CLOUDEVENT_JSON) {
      headers = natsHeaders();
      headers.set("Content-Type", req.contentType);
    }
    if (!this.js) {
      if (this.nc.isClosed()) throw new Error("NATS connection is closed");
      this.nc.publish(this.subject(req.topic), req.data, { headers });
      return;
    }
    if (!this.readyTopics.has(req.topic)) await this.ensureStream(req.topic);
    await this.js.publish(this.subject(req.topic), req.data, { headers, timeout: this.md.publishTimeout });
  }

  async bulkPublish(reqs: PublishRequest[]): Promise<BulkPublishResult> {
    return publishEach(reqs, (r) => this.publish(r));
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Sub> {
    const sub = req.mode === "ephemeral" || !this.js ? this.coreSubscribe(req, handler) : await this.durableSubscribe(req, handler);
    this.subs.add(sub);
    return {
      drain: (signal) => sub.drain(signal),
      close: async () => {
        this.subs.delete(sub);
        await sub.close();
      },
    };
  }

  /**
   * Core NATS: ephemeral subscribers each see every message; durable-mode groups become queue groups. Nothing can go
   * back to the broker here, so a drain lets the messages already on their way in still reach the handler.
   */
  private coreSubscribe(req: SubscribeRequest, handler: MessageHandler): Sub {
    const queue = req.mode === "durable" ? natsName(req.group) : undefined;
    const calls = new InFlight();
    const s: NatsSubscription = this.nc.subscribe(this.subject(req.topic), {
      queue,
      callback: (err, m) => {
        if (err) return;
        const contentType = m.headers?.get("Content-Type") || CLOUDEVENT_JSON;
        void calls.track(handler({ topic: req.topic, data: m.data, contentType, metadata: {}, deliveryAttempt: 1, maxAttempts: 1 })).catch(() => {});
      },
    });
    return {
      drain: (signal) => settledOrAborted((async () => {
        await s.drain().catch(() => {});
        await calls.idle();
      })(), signal),
      close: async () => {
        if (!s.isClosed()) s.unsubscribe();
      },
    };
  }

  private async durableSubscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Sub> {
    const stream = await this.ensureStream(req.topic);
    const durable = natsName(req.group);
    const md = this.md;
    const maxInFlight = Math.min(req.maxInFlight ?? md.maxAckPending, md.maxAckPending);
    const config = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(md.ackWait),
      max_deliver: md.maxDeliver,
      max_ack_pending: md.maxAckPending,
      filter_subject: this.subject(req.topic),
      deliver_policy: md.deliverPolicy === "new" ? DeliverPolicy.New : md.deliverPolicy === "last" ? DeliverPolicy.Last : DeliverPolicy.All,
    };
    const existing = await this.jsm!.consumers.info(stream, durable).catch(() => undefined);
    if (!existing) {
      await this.jsm!.consumers.add(stream, config);
    } else if (existing.config.ack_wait !== config.ack_wait || existing.config.max_deliver !== config.max_deliver || existing.config.max_ack_pending !== config.max_ack_pending) {
      await this.jsm!.consumers.update(stream, durable, { ack_wait: config.ack_wait, max_deliver: config.max_deliver, max_ack_pending: config.max_ack_pending });
    }
    const consumer = await this.js!.consumers.get(stream, durable);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: maxInFlight });
    const maxAttempts = md.maxDeliver > 0 ? md.maxDeliver : Infinity;
    /** Messages handed to the handler and not answered yet: close() hands them back. */
    const unanswered = new Set<JsMsg>();
    /** One per message handed to the handler, until its answer went to the broker. */
    const settling = new Set<Promise<void>>();
    /** False once draining or closed: messages still arriving are handed back instead of handled. */
    let taking = true;
    /** Messages that arrived after `taking` ended. */
    const handBack: JsMsg[] = [];
    /**
     * NAKs without delay what arrived after `taking` ended. Only after our unsubscribe reached the server: until then
     * nats.js may still send pull requests for our inbox, and the server would hand these messages straight back to a
     * request nobody reads any more, to wait out ackWait.
     */
    const handBackNow = async (alsoUnanswered = false) => {
      await settlesWithin(this.nc.flush(), CLOSE_STEP_MS);
      const more = alsoUnanswered ? [...unanswered] : [];
      if (alsoUnanswered) unanswered.clear(); // an answer that comes later is not sent: the message went back
      for (const m of [...handBack.splice(0), ...more]) {
        try {
          m.nak();
        } catch {
          // The connection is closed: the broker redelivers it after ackWait.
        }
      }
    };
    let wake: (() => void) | undefined;
    const wakeLoop = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const settle = async (m: JsMsg) => {
      const attempt = m.info.deliveryCount;
      unanswered.add(m);
      let result;
      try {
        result = await handler({ topic: req.topic, data: m.data, contentType: m.headers?.get("Content-Type") || CLOUDEVENT_JSON, metadata: {}, deliveryAttempt: attempt, maxAttempts });
      } catch {
        result = "retry" as const;
      }
      if (!unanswered.delete(m)) return; // handed back at close
      try {
        if (result === "success") m.ack();
        else if (result === "drop") m.term("dropped by subscriber");
        else m.nak(redeliveryDelayMs(attempt, md.redeliveryInitialDelay, md.redeliveryMaxDelay));
      } catch {
        // The connection is closed: the broker redelivers it after ackWait.
      }
    };
    const loop = (async () => {
      for await (const m of messages) {
        while (settling.size >= maxInFlight && taking) await new Promise<void>((r) => (wake = r));
        if (!taking) {
          handBack.push(m);
          continue;
        }
        const settled = settle(m).finally(() => {
          settling.delete(settled);
          wakeLoop();
        });
        settling.add(settled);
      }
    })().catch(() => {});
    let pullsStopped: Promise<unknown> | undefined;
    const stopPulling = () =>
      (pullsStopped ??= (() => {
        taking = false;
        wakeLoop();
        // Draining the iterator's own inbox subscription (a public field of nats.js' consume() iterator), rather than
        // closing the iterator, also takes in the messages already on their way to us: they go back now, not after
        // ackWait. The iterator ends once they are in.
        const inbox = (messages as Partial<{ sub: NatsSubscription }>).sub;
        const drained = inbox ? inbox.drain() : Promise.reject(new Error("no inbox subscription to drain"));
        return drained.catch(() => messages.close()).catch(() => {});
      })());
    /** Resolved by close(): a drain still waiting has nothing left to wait for. */
    const closed = Promise.withResolvers<void>();
    const drainNow = async () => {
      await stopPulling();
      await loop;
      await handBackNow();
      await Promise.all(settling);
      await this.nc.flush(); // the answers are with the broker, not just in our write buffer
    };
    return {
      drain: (signal) => settledOrAborted(Promise.race([drainNow(), closed.promise]), signal),
      close: async () => {
        taking = false;
        wakeLoop();
        await settlesWithin(stopPulling(), CLOSE_STEP_MS);
        await settlesWithin(messages.close(), CLOSE_STEP_MS);
        await settlesWithin(loop, CLOSE_STEP_MS);
        // Whatever the handler has not answered goes back to the group now rather than after ackWait.
        await handBackNow(true);
        closed.resolve();
      },
    };
  }

  async ping(): Promise<void> {
    await this.nc.flush();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    this.subs.clear();
    await this.nc.drain().catch(() => this.nc.close());
  }
}

export async function createNatsPubSub(md: Md, ctx: Pick<PluginContext, "appId" | "name">): Promise<NatsPubSub> {
  const nc = await connectCoalesced({
    servers: md.natsURL.replace(/^nats:\/\//, "").split(","),
    name: md.name || `rapr-${ctx.appId}-${ctx.name}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Otherwise every request (each JetStream publish) builds two Error objects up front for their stack traces.
    noAsyncTraces: true,
  });
  try {
    const jsm = md.jetstream ? await jetstreamManager(nc) : undefined;
    return new NatsPubSub(nc, jsm, md);
  } catch (err) {
    await nc.close();
    throw err;
  }
}

export default definePlugin({
  type: "pubsub.nats",
  versions: ["v1"],
  metadata,
  create: (md, ctx) => createNatsPubSub(md, ctx),
});
