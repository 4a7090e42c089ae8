// The pub/sub building block: publishing (CloudEvents envelopes), and subscriptions that route each event with
// CEL rules and hand it to the app (or a stream), with dead-lettering after the broker's last attempt.
import { Slot } from "../../runtime/block.js";
import type { AppChannel } from "../../app/channel.js";
import {
  type HandlerResult, type MessageHandler, type PublishRequest, type PubSub, type PubSubMessage, type SubscribeRequest, type Subscription,
} from "../../components/contracts/pubsub.js";
import type { ComponentRegistry } from "../../components/registry.js";
import { errors, messageOf } from "../../errors.js";
import type { Logger } from "../../observability/logger.js";
import { Resiliency } from "../../resiliency/index.js";
import { Batcher } from "./batcher.js";
import {
  acceptCloudEvent, encodeCloudEvent, eventFromBroker, isCloudEventContentType, rawPayloadEvent, wrapInCloudEvent, type BrokerEvent, type CloudEvent,
} from "./cloudevents.js";
import { deliverBulk, deliverOne, type BulkEntry, type DeliveryOptions } from "./delivery.js";
import { compileRouter, overBudgetWarner } from "./routing.js";
import type { SubscriptionSpec } from "./subscriptions.js";
import { InFlight, settledOrAborted } from "../../resiliency/sleep.js";
import { ttlInSeconds } from "../ttl.js";

export interface PublishInput {
  pubsubName: string;
  topic: string;
  data: Uint8Array;
  contentType?: string;
  metadata: Record<string, string>;
  traceparent?: string;
  tracestate?: string;
}

export interface BulkPublishEntry {
  entryId: string;
  event: Uint8Array;
  contentType: string;
  metadata: Record<string, string>;
}

export interface BulkPublishOutcome {
  failedEntries: { entryId: string; error: string }[];
}

/** Per-event sink of a streaming subscription: answers like an app would. */
export type EventSink = (ce: CloudEvent) => Promise<HandlerResult>;

interface Active extends Required<Subscription> {
  spec: SubscriptionSpec;
}

const DEFAULT_DELIVERY_TIMEOUT_MS = 60_000;

/** What a subscription hands on for a message: daprd's rawPayload event, or the CloudEvent off the broker. */
function eventOf(spec: SubscriptionSpec, msg: PubSubMessage): BrokerEvent {
  if (spec.metadata.rawPayload === "true") return { ce: rawPayloadEvent(msg.data, spec, msg.metadata) };
  return eventFromBroker(msg.data, msg.contentType, spec);
}

export class PubsubBlock {
  private readonly active = new Set<Active>();
  /** Set once drain() began: a subscription that comes up afterwards drains at once. */
  private draining?: { signal?: AbortSignal };
  /** Drains of subscriptions that came up while drain() ran: drain() waits for them too. */
  private readonly lateDrains = new InFlight();

  constructor(
    private readonly registry: ComponentRegistry,
    readonly appId: string,
    private readonly app: AppChannel,
    private readonly logger: Logger,
    private readonly alpha?: DeliveryOptions["alpha"],
    /** targets.components.<pubsub>: outbound for publishing, inbound for handing events to the app. */
    private readonly resiliency = new Resiliency(),
  ) {}

  /** A publish under the component's outbound policy, if it has one. */
  private send(pubsubName: string, ps: PubSub, req: PublishRequest): Promise<void> {
    return this.resiliency.run({ component: pubsubName }, () => ps.publish(req));
  }

  /** The named pubsub component, or Dapr's errors for a missing name or an unknown component. */
  component(name: string): PubSub {
    if (!name) throw errors.pubsubEmpty("pubsub name is empty");
    const ps = this.registry.get<PubSub>("pubsub", name);
    if (ps) return ps;
    if (this.registry.list("pubsub").length === 0) throw errors.pubsubNotConfigured("no pubsub is configured");
    throw errors.pubsubNotFound(`pubsub ${name} not found`);
  }

  componentNames(): string[] {
    return this.registry.list("pubsub").map((c) => c.spec.name);
  }

  /** The bytes that go to the broker: a CloudEvent envelope, the body as is when it is one, or the raw payload. */
  envelope(input: Omit<PublishInput, "pubsubName"> & { pubsubName: string }): { data: Uint8Array; contentType: string } {
    const md = input.metadata;
    ttlInSeconds(md, `pubsub ${input.pubsubName}`, { value: 0 });
    if (md.rawPayload === "true") return { data: input.data, contentType: input.contentType || "application/octet-stream" };
    const overrides: Record<string, string> = {};
    for (const [k, v] of Object.entries(md)) if (k.startsWith("cloudevent.")) overrides[k.slice(11)] = v;
    const fill = { source: this.appId, topic: input.topic, pubsubName: input.pubsubName, traceparent: input.traceparent, tracestate: input.tracestate, overrides };
    const ce = isCloudEventContentType(input.contentType)
      ? acceptCloudEvent(input.data, fill)
      : wrapInCloudEvent({ ...fill, data: input.data, contentType: input.contentType || "text/plain" });
    return { data: encodeCloudEvent(ce), contentType: "application/cloudevents+json" };
  }

  async publish(input: PublishInput): Promise<void> {
    const ps = this.component(input.pubsubName);
    if (!input.topic) throw errors.pubsubTopicEmpty(`topic is empty in pubsub ${input.pubsubName}`);
    const { data, contentType } = this.envelope(input);
    try {
      await this.send(input.pubsubName, ps, { topic: input.topic, data, contentType, metadata: input.metadata });
    } catch (err) {
      throw errors.pubsubPublish(`error when publish to topic ${input.topic} in pubsub ${input.pubsubName}: ${messageOf(err)}`);
    }
  }

  async bulkPublish(pubsubName: string, topic: string, entries: BulkPublishEntry[], metadata: Record<string, string>, traceparent?: string): Promise<BulkPublishOutcome> {
    const ps = this.component(pubsubName);
    if (!topic) throw errors.pubsubTopicEmpty(`topic is empty in pubsub ${pubsubName}`);
    const seen = new Set<string>();
    for (const e of entries) {
      if (!e.entryId) throw errors.pubsubEventsSer("every bulk publish entry needs an entryId");
      if (seen.has(e.entryId)) throw errors.pubsubEventsSer(`entryId ${e.entryId} is used twice`);
      seen.add(e.entryId);
    }
    const reqs = entries.map((e) => {
      const env = this.envelope({ pubsubName, topic, data: e.event, contentType: e.contentType, metadata: { ...metadata, ...e.metadata }, traceparent });
      return { topic, data: env.data, contentType: env.contentType, metadata: e.metadata };
    });
    let failed;
    try {
      failed = (await this.resiliency.run({ component: pubsubName }, () => ps.bulkPublish(reqs))).failed;
    } catch (err) {
      failed = entries.map((_, index) => ({ index, error: messageOf(err) }));
    }
    return { failedEntries: failed.map((f) => ({ entryId: entries[f.index].entryId, error: f.error })) };
  }

  /** Starts delivering a subscription's events to the app. */
  async subscribe(spec: SubscriptionSpec): Promise<void> {
    const ps = this.component(spec.pubsubName);
    const router = compileRouter(spec, overBudgetWarner(this.logger, { pubsub: spec.pubsubName, topic: spec.topic }));
    const rawPayload = spec.metadata.rawPayload === "true";
    const timeoutMs = Number(spec.metadata.deliveryTimeoutMs) || DEFAULT_DELIVERY_TIMEOUT_MS;
    const base = { pubsubName: spec.pubsubName, topic: spec.topic, rawPayload, timeoutMs, alpha: this.alpha };
    const inbound = this.inboundPolicy(spec.pubsubName);
    const batchers = new Map<string, Batcher<BulkEntry>>();
    let draining = false;
    const batcherFor = (path: string) => {
      let b = batchers.get(path);
      if (!b) {
        b = new Batcher<BulkEntry>(spec.bulk!.maxMessagesCount, spec.bulk!.maxAwaitDurationMs, async (items) => {
          // Under an inbound policy a batch with failed entries is a failed attempt, and the next attempt sends
          // only those entries again.
          const outcome = new Map<string, HandlerResult>();
          let left = items;
          await inbound(async () => {
            // An attempt the policy timed out may still finish after the next one started: each works on its own list.
            const batch = left;
            const results = await deliverBulk(this.app, batch, { ...base, path });
            for (const i of batch) if (outcome.get(i.entryId) !== "success") outcome.set(i.entryId, results.get(i.entryId) ?? "retry");
            const failed = batch.filter((i) => outcome.get(i.entryId) === "retry");
            if (left === batch) left = failed;
            return failed.length ? "retry" : "success";
          });
          return items.map((i) => outcome.get(i.entryId) ?? "retry");
        });
        batchers.set(path, b);
        if (draining) b.drain();
      }
      return b;
    };
    const handler: MessageHandler = async (msg) => {
      const { ce, verbatim } = eventOf(spec, msg);
      const path = router.route(ce);
      if (path === undefined) return "drop";
      const result = spec.bulk
        ? await batcherFor(path).add({ entryId: crypto.randomUUID(), ce, metadata: msg.metadata })
        : await inbound(() => deliverOne(this.app, ce, { ...base, path }, verbatim, msg.metadata));
      return this.afterDelivery(ps, spec, msg, result);
    };
    const maxInFlight = spec.bulk ? Math.max(64, spec.bulk.maxMessagesCount * 2) : undefined;
    const sub = await this.open(ps, { topic: spec.topic, mode: "durable", group: this.appId, maxInFlight, metadata: spec.metadata }, handler);
    this.track({
      spec,
      drain: (signal) => {
        // A batch being collected goes to the app now rather than after maxAwaitDurationMs; with no time left (the
        // app is gone) it stays to be handed back by close().
        if (!signal?.aborted) {
          draining = true;
          for (const b of batchers.values()) b.drain();
        }
        return sub.drain(signal);
      },
      close: async () => {
        for (const b of batchers.values()) b.close();
        await sub.close();
      },
    });
    this.logger.info("subscribed", { pubsub: spec.pubsubName, topic: spec.topic, kind: spec.kind });
  }

  /** A streaming subscription (SubscribeTopicEventsAlpha1): events go to the sink instead of the app. */
  async subscribeStream(spec: SubscriptionSpec, sink: EventSink): Promise<() => Promise<void>> {
    const ps = this.component(spec.pubsubName);
    const handler: MessageHandler = async (msg) => {
      const { ce } = eventOf(spec, msg);
      return this.afterDelivery(ps, spec, msg, await sink(ce).catch(() => "retry" as const));
    };
    const sub = await this.open(ps, { topic: spec.topic, mode: "durable", group: this.appId, metadata: spec.metadata }, handler);
    const entry: Active = { spec, drain: (signal) => sub.drain(signal), close: () => sub.close() };
    this.track(entry);
    return async () => {
      this.active.delete(entry);
      await sub.close();
    };
  }

  /**
   * Subscribes `handler`, with a drain even when the plugin has none (plugins from --plugins-path may predate it): the
   * block then holds new messages back unanswered, without handing them on, and waits for the calls under way; close()
   * answers the held ones "retry". (Answering "retry" at once would spin them through a plugin that redelivers at once,
   * using up their delivery attempts.)
   */
  private async open(ps: PubSub, req: SubscribeRequest, handler: MessageHandler): Promise<Required<Subscription>> {
    let pluginDrains = false;
    let holding = false;
    const held = new Set<(r: HandlerResult) => void>();
    const calls = new InFlight();
    const sub = await ps.subscribe(req, (msg) => {
      if (pluginDrains) return handler(msg);
      if (holding) return new Promise<HandlerResult>((resolve) => held.add(resolve));
      return calls.track(handler(msg));
    });
    pluginDrains = typeof sub.drain === "function";
    const drain = (signal?: AbortSignal) => {
      // A plugin's drain that throws or ignores the signal holds nothing up.
      if (pluginDrains) return settledOrAborted((async () => sub.drain!(signal))(), signal);
      holding = true;
      return settledOrAborted(calls.idle(), signal);
    };
    const close = async () => {
      for (const answer of held) answer("retry");
      held.clear();
      await Promise.resolve(); // the plugin sees the answers before its close begins
      await sub.close();
    };
    return { drain, close };
  }

  private track(entry: Active): void {
    this.active.add(entry);
    if (!this.draining) return;
    // It was being set up when the drain began.
    void this.lateDrains.track(entry.drain(this.draining.signal));
  }

  /**
   * Deliveries under the component's inbound policy: "retry" answers and errors count as failures, so the sidecar
   * retries before the event goes back to the broker, and an open circuit stops calling the app for a while.
   */
  private inboundPolicy(pubsubName: string): (deliver: () => Promise<HandlerResult>) => Promise<HandlerResult> {
    const target = { component: pubsubName, direction: "inbound" as const };
    if (!this.resiliency.policyFor(target)) return (deliver) => deliver();
    return (deliver) =>
      this.resiliency.run(target, deliver, { failedResult: (r) => r === "retry" }).catch((err: unknown) => {
        this.logger.debug("delivery failed under the inbound resiliency policy", { pubsub: pubsubName, error: messageOf(err) });
        return "retry" as const;
      });
  }

  /**
   * With a dead-letter topic, an event the app dropped, or one still failing on the broker's last attempt, is
   * published there and the original acknowledged (as Dapr does since 1.13). Without one: drop acks, retry naks.
   */
  private async afterDelivery(ps: PubSub, spec: SubscriptionSpec, msg: PubSubMessage, result: HandlerResult): Promise<HandlerResult> {
    if (!spec.deadLetterTopic || result === "success") return result;
    if (result === "retry" && msg.deliveryAttempt < msg.maxAttempts) return result;
    try {
      await this.send(spec.pubsubName, ps, { topic: spec.deadLetterTopic, data: msg.data, contentType: msg.contentType, metadata: {} });
      this.logger.warn("event sent to the dead-letter topic", { pubsub: spec.pubsubName, topic: spec.topic, dead_letter_topic: spec.deadLetterTopic });
      return "drop";
    } catch (err) {
      this.logger.warn("dead-letter publish failed", { pubsub: spec.pubsubName, topic: spec.deadLetterTopic, error: messageOf(err) });
      return "retry";
    }
  }

  subscriptions(): SubscriptionSpec[] {
    return [...this.active].map((a) => a.spec);
  }

  /**
   * Every subscription stops taking messages; resolves once those already handed to the app (or a stream) were
   * answered and settled with the broker, or as soon as `signal` aborts (stop() then hands back the unanswered ones).
   */
  async drain(signal?: AbortSignal): Promise<void> {
    this.draining = { signal };
    await Promise.allSettled([...this.active].map((a) => a.drain(signal)));
    await this.lateDrains.idle();
  }

  async stop(): Promise<void> {
    const all = [...this.active];
    this.active.clear();
    await Promise.allSettled(all.map((a) => a.close()));
  }
}

/** The running pubsub block, for the API fronts. */
export const pubsubSlot = new Slot<PubsubBlock>("pubsub");
