// bindings.mqtt3: publishes to an MQTT topic (output, operation "create") and hands the messages of a topic to the app
// (input), as daprd's mqtt3 binding does: client ids "{consumerID}-producer" and "{consumerID}-consumer", QoS 1, the
// session clean or kept (cleanSession), a message acknowledged once the app accepted it. A delivery the app refuses is
// tried again every 5 s, backOffMaxRetries times (-1: until accepted), then dropped with a log line. Events go to the
// app one at a time, in the order they came; each carries the topic it came on in its metadata.
import type { MqttClient, IPublishPacket } from "mqtt";
import {
  BindingRequestError, unsupportedOperation,
  type BindingEventHandler, type BindingRequest, type BindingResponse, type InputBinding, type InputReader, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { field, MetadataError, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type PluginContext } from "../../src/components/plugin.js";
import type { Logger } from "../../src/observability/logger.js";
import { messageOf } from "../../src/errors.js";
import { settlesWithin, sleepUnless } from "../../src/resiliency/sleep.js";
import {
  connectAcking, connectionMetadata, connectOptions, publishTopicProblem, sharedSubscription, topicFilterProblem, withinWait,
} from "../pubsub.mqtt3/connection.js";

/** daprd's constant backoff between deliveries of a message the app refused. */
const RETRY_EVERY_MS = 5_000;
const CLOSE_STEP_MS = 1_000;
const QOS = 1;

const metadata = {
  ...connectionMetadata,
  topic: field.string({ required: true }),
  consumerID: field.string({ default: "" }),
  retain: field.bool({ default: false }),
  cleanSession: field.bool({ default: false }),
  backOffMaxRetries: field.int({ default: 0, min: -1 }),
  /** Deprecated in daprd and ignored there too: QoS is 1. */
  qos: field.string({ default: "" }),
};
type Md = MetadataOf<typeof metadata>;

const OPERATIONS = ["create"];

class MqttBinding implements OutputBinding, InputBinding {
  private producer?: Promise<MqttClient>;
  private reader?: MqttReader;
  private closed = false;
  private readonly where: string;

  constructor(private readonly md: Md, private readonly clientId: string, private readonly ctx: Pick<PluginContext, "name" | "logger">) {
    this.where = `bindings.mqtt3 "${ctx.name}"`;
  }

  operations() {
    return OPERATIONS;
  }

  /** The connection for publishing, opened on first use (and again after one that failed to open). */
  private producerClient(): Promise<MqttClient> {
    this.producer ??= connectAcking(this.md, { clientId: `${this.clientId}-producer`, clean: this.md.cleanSession }, () => {}).catch((err) => {
      this.producer = undefined;
      throw err;
    });
    return this.producer;
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    if (this.closed) throw new Error(`${this.where} is closed`);
    req.signal?.throwIfAborted();
    if (req.operation !== "create") throw unsupportedOperation(this.where, req.operation, OPERATIONS);
    // The component's topic may be a subscription filter; publishing goes to the topic under it.
    const topic = req.metadata.topic || (sharedSubscription(this.md.topic)?.filter ?? this.md.topic);
    const problem = publishTopicProblem(topic);
    if (problem) throw new BindingRequestError(`${this.where}: ${problem}`);
    const client = await abortable(this.producerClient(), req.signal);
    if (this.closed) throw new Error(`${this.where} is closed`);
    await abortable(withinWait(client.publishAsync(topic, Buffer.from(req.data), { qos: QOS, retain: this.md.retain }), `${this.where}: publish to ${topic}`), req.signal);
    return { data: new Uint8Array(0), metadata: {} };
  }

  async read(handler: BindingEventHandler): Promise<InputReader> {
    if (this.closed) throw new Error(`${this.where} is closed`);
    if (this.reader) throw new Error(`${this.where} is already reading`);
    const reader = new MqttReader(handler, this.md, this.ctx.logger, this.where);
    this.reader = reader;
    try {
      await reader.start(`${this.clientId}-consumer`);
    } catch (err) {
      this.reader = undefined;
      await reader.close();
      throw err;
    }
    return { close: () => reader.close().finally(() => this.reader === reader && (this.reader = undefined)) };
  }

  async ping(): Promise<void> {
    const client = await this.producerClient();
    if (!client.connected) throw new Error(`${this.where}: not connected to the MQTT broker`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const reader = this.reader;
    this.reader = undefined;
    const producer = this.producer;
    this.producer = undefined;
    await Promise.allSettled([
      reader?.close(),
      producer?.then(async (c) => {
        await settlesWithin(c.endAsync(), CLOSE_STEP_MS);
        c.end(true);
      }),
    ]);
  }
}

/** Hands the topic's messages to the app one at a time. */
class MqttReader {
  private client?: MqttClient;
  private readonly queue: { packet: IPublishPacket; ack: () => void }[] = [];
  private running?: Promise<void>;
  private readonly stop = new AbortController();

  constructor(private readonly handler: BindingEventHandler, private readonly md: Md, private readonly log: Logger, private readonly where: string) {}

  async start(clientId: string) {
    this.client = await connectAcking(this.md, { clientId, clean: this.md.cleanSession }, (packet, ack) => {
      if (this.stop.signal.aborted) return;
      this.queue.push({ packet, ack });
      this.running ??= this.drainQueue().finally(() => (this.running = undefined));
    });
    this.client.on("offline", () => this.log.warn(`${this.where}: MQTT connection lost; reconnecting`));
    const granted = await withinWait(this.client.subscribeAsync(this.md.topic, { qos: QOS }), `${this.where}: subscribe to ${this.md.topic}`);
    if (granted.some((g) => g.qos === 128)) throw new Error(`${this.where}: the broker refused the subscription to ${this.md.topic}`);
  }

  private async drainQueue() {
    for (let next = this.queue.shift(); next && !this.stop.signal.aborted; next = this.queue.shift()) await this.deliver(next.packet, next.ack);
  }

  private async deliver(packet: IPublishPacket, ack: () => void) {
    const event = { data: packet.payload as Uint8Array, metadata: { topic: packet.topic } };
    const retries = this.md.backOffMaxRetries;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.handler(event);
        return ack();
      } catch (err) {
        if (this.stop.signal.aborted) return; // not acknowledged: a kept session gets it again
        if (retries >= 0 && attempt >= retries) {
          this.log.error(`${this.where}: the app did not accept a message from ${packet.topic}; dropped`, { error: messageOf(err) });
          return ack();
        }
        this.log.warn(`${this.where}: the app did not accept a message from ${packet.topic}; trying again in ${RETRY_EVERY_MS / 1000} s`, { error: messageOf(err) });
        await sleepUnless(RETRY_EVERY_MS, this.stop.signal);
        if (this.stop.signal.aborted) return;
      }
    }
  }

  /** Stops taking messages, waits for the delivery under way, and disconnects (without unsubscribing, as daprd). */
  async close() {
    this.stop.abort();
    this.queue.length = 0;
    await this.running;
    if (!this.client) return;
    await settlesWithin(this.client.endAsync(), CLOSE_STEP_MS);
    this.client.end(true);
  }
}

/** `op`, or a rejection with the signal's reason once it aborts. */
function abortable<T>(op: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return op;
  signal.throwIfAborted();
  return Promise.race([op, new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))]);
}

export default definePlugin({
  type: "bindings.mqtt3",
  versions: ["v1"],
  metadata,
  async create(md, ctx) {
    const problem = topicFilterProblem(sharedSubscription(md.topic)?.filter ?? md.topic);
    if (problem) throw new MetadataError("topic", `metadata field "topic": ${problem}`);
    if (md.qos) ctx.logger.warn(`bindings.mqtt3 "${ctx.name}": metadata "qos" is deprecated and ignored, as in Dapr; QoS is 1`);
    connectOptions(md); // a bad url or certificate fails here; the broker is reached on first use, as in daprd
    return new MqttBinding(md, md.consumerID || ctx.appId, ctx);
  },
});
