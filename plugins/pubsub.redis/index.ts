// pubsub.redis: Dapr's Redis Streams pub/sub. One stream per topic (named as the topic), entries laid out as daprd
// writes them (entries.ts), one consumer group per consumerID (default: the app id); trimming by maxLenApprox or
// streamTTL. Durable subscriptions in durable.ts, ephemeral ones in ephemeral.ts.
import {
  publishEach,
  redeliveryDelayMs,
  type BulkPublishResult, type MessageHandler, type PublishRequest, type PubSub, type PubSubFeature,
  type SubscribeRequest, type Subscription,
} from "../../src/components/contracts/pubsub.js";
import { field, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { closeRedis, connectRedis, redisConnectionMetadata, redisDuration, type RedisConnection } from "../../src/components/redis/client.js";
import type { Logger } from "../../src/observability/logger.js";
import { durableSubscription } from "./durable.js";
import { entryFields } from "./entries.js";
import { ephemeralSubscription } from "./ephemeral.js";

const metadata = {
  ...redisConnectionMetadata,
  consumerID: field.string({ default: "" }),
  // Dapr's: a bare integer is milliseconds.
  processingTimeout: field.string({ default: "60s" }),
  redeliverInterval: field.string({ default: "15s" }),
  queueDepth: field.int({ default: 100, min: 1 }),
  concurrency: field.int({ default: 10, min: 1 }),
  maxLenApprox: field.int({ default: 0, min: 0 }),
  streamTTL: field.string({ default: "0" }),
  // rapr's, as pubsub.nats has them.
  maxDeliver: field.int({ default: -1 }),
  redeliveryInitialDelay: field.duration({ default: 100 }),
  redeliveryMaxDelay: field.duration({ default: 10_000 }),
};
type Md = MetadataOf<typeof metadata>;

class RedisPubSub implements PubSub {
  private readonly subs = new Set<Subscription>();
  private readonly processingTimeoutMs: number;
  private readonly redeliverIntervalMs: number;
  private readonly streamTtlMs: number;

  constructor(private readonly client: RedisConnection, private readonly md: Md, private readonly appId: string, private readonly logger: Logger) {
    this.processingTimeoutMs = Math.max(0, redisDuration("processingTimeout", md.processingTimeout));
    this.redeliverIntervalMs = Math.max(0, redisDuration("redeliverInterval", md.redeliverInterval));
    this.streamTtlMs = Math.max(0, redisDuration("streamTTL", md.streamTTL));
    if (md.maxLenApprox > 0 && this.streamTtlMs > 0) logger.warn("pubsub.redis: maxLenApprox and streamTTL both set; only maxLenApprox trims, as in Dapr");
  }

  features(): PubSubFeature[] {
    return ["BULK_PUBLISH", "DURABLE", "EPHEMERAL", "COMPETING_CONSUMERS", "CONTENT_TYPE", "HAND_BACK"];
  }

  /** XADD's trimming arguments: MAXLEN ~ n, else MINID ~ (now - streamTTL), else none. */
  private trim(): string[] {
    if (this.md.maxLenApprox > 0) return ["MAXLEN", "~", String(this.md.maxLenApprox)];
    if (this.streamTtlMs > 0) return ["MINID", "~", `${Date.now() - this.streamTtlMs}-1`];
    return [];
  }

  async publish(req: PublishRequest): Promise<void> {
    await this.client.xadd(req.topic, ...this.trim(), "*", ...entryFields(req));
  }

  async bulkPublish(reqs: PublishRequest[]): Promise<BulkPublishResult> {
    // Auto-pipelining sends them in one write.
    return publishEach(reqs, (r) => this.publish(r));
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Subscription> {
    const maxInFlight = req.maxInFlight ?? this.md.concurrency;
    let sub: Required<Subscription>;
    if (req.mode === "ephemeral") {
      sub = await ephemeralSubscription(this.client, req.topic, maxInFlight, handler, this.logger);
    } else {
      const group = this.md.consumerID || req.group || this.appId;
      sub = await durableSubscription(this.client, {
        topic: req.topic,
        group,
        consumer: group,
        maxInFlight,
        queueDepth: this.md.queueDepth,
        processingTimeoutMs: this.processingTimeoutMs,
        redeliverIntervalMs: this.redeliverIntervalMs,
        maxAttempts: this.md.maxDeliver > 0 ? this.md.maxDeliver : Infinity,
        retryDelayMs: (attempt) => redeliveryDelayMs(attempt, this.md.redeliveryInitialDelay, this.md.redeliveryMaxDelay),
      }, handler, this.logger);
    }
    this.subs.add(sub);
    return {
      drain: (signal) => sub.drain(signal),
      close: async () => {
        this.subs.delete(sub);
        await sub.close();
      },
    };
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    this.subs.clear();
    await closeRedis(this.client);
  }
}

export default definePlugin({
  type: "pubsub.redis",
  versions: ["v1"],
  metadata,
  async create(md, ctx) {
    const client = await connectRedis(md, ctx.logger, `pubsub.redis "${ctx.name}"`);
    return new RedisPubSub(client, md, ctx.appId, ctx.logger);
  },
});
