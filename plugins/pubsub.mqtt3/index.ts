// pubsub.mqtt3: MQTT 3.1.1 (or 5, protocolVersion) brokers such as Mosquitto. Each subscription has a connection of
// its own; durable ones are shared subscriptions "$share/{consumerID}/{topic}", so the instances of an app (same
// consumerID) compete for messages and other apps each get every message. Topics may hold the wildcards + and #.
// A message is acknowledged (PUBACK) once the handler answered success or drop; retry redelivers it here, with
// backoff, while the connection lives. MQTT cannot give a message back: one a member has not settled when it closes
// is redelivered only to a persistent session, so this plugin lacks HAND_BACK.
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { field, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type PluginContext } from "../../src/components/plugin.js";
import {
  publishEach,
  redeliveryDelayMs,
  type BulkPublishResult, type MessageHandler, type PublishRequest, type PubSub, type PubSubFeature,
  type SubscribeRequest, type Subscription,
} from "../../src/components/contracts/pubsub.js";
import type { Logger } from "../../src/observability/logger.js";
import { InFlight, settledOrAborted, settlesWithin, sleepUnless } from "../../src/resiliency/sleep.js";
import {
  connectAcking, connectionMetadata, publishTopicProblem, sharedSubscription, topicFilterProblem, withinWait,
} from "./connection.js";

const CLOSE_STEP_MS = 1_000;
const DEFAULT_MAX_IN_FLIGHT = 1_000;

const metadata = {
  ...connectionMetadata,
  consumerID: field.string({ default: "" }),
  qos: field.string({ default: "1", oneOf: ["0", "1", "2"] }),
  retain: field.bool({ default: false }),
  cleanSession: field.bool({ default: true }),
  protocolVersion: field.string({ default: "4", oneOf: ["3", "4", "5"] }),
  maxDeliver: field.int({ default: -1 }),
  redeliveryInitialDelay: field.duration({ default: 100 }),
  redeliveryMaxDelay: field.duration({ default: 10_000 }),
};
type Md = MetadataOf<typeof metadata>;

type Sub = Required<Subscription>;

class MqttPubSub implements PubSub {
  private readonly subs = new Set<Sub>();
  private closed = false;

  constructor(
    private readonly publisher: MqttClient,
    private readonly md: Md,
    private readonly consumerID: string,
    private readonly options: (clientId: string) => IClientOptions,
    private readonly log: Logger,
  ) {}

  features(): PubSubFeature[] {
    const f: PubSubFeature[] = ["BULK_PUBLISH", "DURABLE", "EPHEMERAL", "COMPETING_CONSUMERS", "SUBSCRIBE_WILDCARDS"];
    if (this.md.protocolVersion === "5") f.push("CONTENT_TYPE");
    return f;
  }

  private get qos() {
    return Number(this.md.qos) as 0 | 1 | 2;
  }

  private get v5() {
    return this.md.protocolVersion === "5";
  }

  async publish(req: PublishRequest): Promise<void> {
    if (this.closed) throw new Error("pubsub.mqtt3 is closed");
    const problem = publishTopicProblem(req.topic);
    if (problem) throw new Error(problem);
    let retain = this.md.retain;
    const perRequest = req.metadata?.retain;
    if (perRequest) {
      if (!/^(true|false|1|0)$/i.test(perRequest)) throw new Error(`metadata retain must be true or false, got "${perRequest}"`);
      retain = /^(true|1)$/i.test(perRequest);
    }
    const properties = this.v5 && req.contentType ? { contentType: req.contentType } : undefined;
    await withinWait(this.publisher.publishAsync(req.topic, Buffer.from(req.data), { qos: this.qos, retain, properties }), `publish to ${req.topic}`);
  }

  async bulkPublish(reqs: PublishRequest[]): Promise<BulkPublishResult> {
    return publishEach(reqs, (r) => this.publish(r));
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Sub> {
    if (this.closed) throw new Error("pubsub.mqtt3 is closed");
    const own = sharedSubscription(req.topic);
    const problem = topicFilterProblem(own ? own.filter : req.topic);
    if (problem) throw new Error(problem);
    // An app may name a shared subscription itself, as with daprd; otherwise durable members share by consumerID.
    const filter = own || req.mode === "ephemeral" ? req.topic : `$share/${this.md.consumerID || req.group}/${req.topic}`;
    const maxInFlight = Math.max(1, Math.min(req.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, 65_535));
    const clientId = `${this.consumerID}-${crypto.randomUUID().slice(0, 8)}`;
    const extra = this.options(clientId);
    if (this.v5) extra.properties = { ...extra.properties, receiveMaximum: maxInFlight };
    const sub = new MqttSubscription(filter, req, handler, this.md, maxInFlight);
    sub.connect(await connectAcking(this.md, extra, (packet, ack) => sub.take(packet, ack)), this.log);
    try {
      await withinWait(sub.client.subscribeAsync(filter, { qos: this.qos }).then((granted) => {
        const refused = granted.find((g) => g.qos === 128);
        if (refused) throw new Error(`the broker refused the subscription to ${filter}`);
      }), `subscribe to ${filter}`);
    } catch (err) {
      await sub.close();
      throw err;
    }
    const entry: Sub = {
      drain: (signal) => sub.drain(signal),
      close: async () => {
        this.subs.delete(entry);
        await sub.close();
      },
    };
    this.subs.add(entry);
    return entry;
  }

  async ping(): Promise<void> {
    if (!this.publisher.connected) throw new Error("not connected to the MQTT broker");
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.subs].map((s) => s.close()));
    this.subs.clear();
    await settlesWithin(this.publisher.endAsync(), CLOSE_STEP_MS);
    this.publisher.end(true);
  }
}

/** One subscription on its own connection: hands messages to the handler, at most maxInFlight at once. */
class MqttSubscription {
  private taking = true;
  private readonly waiting: { packet: IPublishPacket; ack: () => void }[] = [];
  client!: MqttClient;
  private readonly running = new InFlight();
  private runningCount = 0;
  private readonly stop = new AbortController();
  private readonly maxAttempts: number;

  constructor(
    private readonly filter: string,
    private readonly req: SubscribeRequest,
    private readonly handler: MessageHandler,
    private readonly md: Md,
    private readonly maxInFlight: number,
  ) {
    this.maxAttempts = req.mode === "ephemeral" ? 1 : md.maxDeliver > 0 ? md.maxDeliver : Infinity;
  }

  connect(client: MqttClient, log: Logger) {
    this.client = client;
    client.on("offline", () => log.warn("MQTT connection lost; reconnecting", { topic: this.filter }));
  }

  take(packet: IPublishPacket, ack: () => void) {
    if (this.stop.signal.aborted) return;
    // Ephemeral subscribers acknowledge nothing: the message is theirs once it arrived.
    if (this.req.mode === "ephemeral") ack();
    this.waiting.push({ packet, ack });
    this.pump();
  }

  private pump() {
    while (this.runningCount < this.maxInFlight && this.waiting.length) {
      const { packet, ack } = this.waiting.shift()!;
      this.runningCount++;
      void this.running.track(this.deliver(packet, ack).finally(() => {
        this.runningCount--;
        this.pump();
      }));
    }
  }

  private async deliver(packet: IPublishPacket, ack: () => void): Promise<void> {
    const contentType = packet.properties?.contentType || undefined;
    const metadata = { retained: String(packet.retain) };
    for (let attempt = 1; ; attempt++) {
      if (this.stop.signal.aborted) return; // unanswered: not acknowledged
      let result;
      try {
        result = await this.handler({ topic: packet.topic, data: packet.payload as Uint8Array, contentType, metadata, deliveryAttempt: attempt, maxAttempts: this.maxAttempts });
      } catch {
        result = "retry" as const;
      }
      if (result !== "retry" || attempt >= this.maxAttempts) break;
      await sleepUnless(redeliveryDelayMs(attempt, this.md.redeliveryInitialDelay, this.md.redeliveryMaxDelay), this.stop.signal);
    }
    if (!this.stop.signal.aborted) ack();
  }

  /**
   * Unsubscribes, so the broker sends this member nothing new, then lets what already reached it be handled and
   * acknowledged (MQTT has no way to hand it back).
   */
  drain(signal?: AbortSignal): Promise<void> {
    const work = (async () => {
      if (this.taking) {
        this.taking = false;
        await settlesWithin(this.client.unsubscribeAsync(this.filter), CLOSE_STEP_MS);
      }
      while (this.waiting.length || this.runningCount) {
        await this.running.idle();
        await Promise.resolve();
      }
    })();
    return settledOrAborted(Promise.race([work, new Promise((r) => this.stop.signal.addEventListener("abort", r, { once: true }))]), signal);
  }

  async close(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.taking = false;
    this.stop.abort();
    this.waiting.length = 0;
    // With a clean session the broker forgets what was not acknowledged; a persistent one keeps it for this client id.
    await settlesWithin(this.client.endAsync(), CLOSE_STEP_MS);
    this.client.end(true);
  }
}

export async function createMqttPubSub(md: Md, ctx: Pick<PluginContext, "appId" | "name" | "logger">): Promise<MqttPubSub> {
  if (!md.cleanSession) {
    ctx.logger.warn("pubsub.mqtt3: cleanSession=false has no effect: each subscription connects with a client id of its own, and a session kept for it would take its share of the group's messages after the instance is gone", { component: ctx.name });
  }
  const consumerID = md.consumerID || ctx.appId;
  const options = (clientId: string): IClientOptions => ({
    clientId,
    clean: true,
    protocolVersion: Number(md.protocolVersion) as 3 | 4 | 5,
    ...(md.protocolVersion === "3" ? { protocolId: "MQIsdp" } : {}),
  });
  const publisher = await connectAcking(md, options(`${consumerID}-pub-${crypto.randomUUID().slice(0, 8)}`), () => {});
  return new MqttPubSub(publisher, md, consumerID, options, ctx.logger);
}

export default definePlugin({
  type: "pubsub.mqtt3",
  versions: ["v1"],
  metadata,
  create: (md, ctx) => createMqttPubSub(md, ctx),
});
