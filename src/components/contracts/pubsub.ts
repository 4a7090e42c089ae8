// The pub/sub contract. Every pubsub plugin implements it; test/conformance/pubsub.test.ts proves it.
// At-least-once: a durable subscription acknowledges a message to the broker only after the handler answered
// "success" or "drop"; "retry" (or a handler that throws) means the broker delivers it again later.
import type { Component } from "../plugin.js";

/**
 * SUBSCRIBE_WILDCARDS: topics may hold the broker's wildcards (Dapr's name). CONTENT_TYPE: a message keeps the content
 * type it was published with. HAND_BACK: what a member was handed and had not settled when it closed goes back to its
 * group at once, as Subscription.close() describes (an MQTT broker cannot take a message back).
 */
export type PubSubFeature = "BULK_PUBLISH" | "DURABLE" | "EPHEMERAL" | "COMPETING_CONSUMERS" | "SUBSCRIBE_WILDCARDS" | "CONTENT_TYPE" | "HAND_BACK";

export interface PublishRequest {
  topic: string;
  data: Uint8Array;
  contentType?: string;
  /** Per-request metadata (Dapr's metadata.* query parameters); plugins may read options from it. */
  metadata?: Record<string, string>;
}

export interface BulkPublishResult {
  /** Indexes into the request list that were not published, with why. Empty = all published. */
  failed: { index: number; error: string }[];
}

/** A bulk publish as one publish per request, all at once: for brokers with no batch call of their own. */
export async function publishEach(reqs: PublishRequest[], publish: (req: PublishRequest) => Promise<void>): Promise<BulkPublishResult> {
  const results = await Promise.allSettled(reqs.map(publish));
  const failed: BulkPublishResult["failed"] = [];
  results.forEach((r, index) => {
    if (r.status === "rejected") failed.push({ index, error: String(r.reason?.message ?? r.reason) });
  });
  return { failed };
}

export interface PubSubMessage {
  topic: string;
  data: Uint8Array;
  contentType?: string;
  metadata: Record<string, string>;
  /** 1 on the first delivery, 2 on the first redelivery, … */
  deliveryAttempt: number;
  /** The attempt after which the broker gives up (Infinity = never); the block dead-letters on the last one. */
  maxAttempts: number;
}

export type HandlerResult = "success" | "retry" | "drop";
export type MessageHandler = (msg: PubSubMessage) => Promise<HandlerResult>;

export interface SubscribeRequest {
  topic: string;
  /**
   * durable: a consumer group named `group`; instances in the same group share the topic's messages, each
   * message is redelivered until acknowledged. ephemeral: every ephemeral subscriber sees every message
   * published from now on, with no acknowledgement (used to fan out to subscribers outside the cluster).
   */
  mode: "durable" | "ephemeral";
  group: string;
  /** Most messages handed to the handler at once (durable mode). */
  maxInFlight?: number;
  metadata?: Record<string, string>;
}

export interface Subscription {
  /**
   * A graceful stop: take no new messages (ones fetched from the broker but not yet handed to the handler go back at
   * once), and resolve once every message already handed to the handler was answered and settled with the broker
   * (acked, naked or termed), or once close() has handed back what is unanswered. An aborted `signal` ends the wait
   * at once; close() then hands back what is unanswered.
   * Optional because plugins loaded from --plugins-path may predate it: for those the block itself stops handing
   * messages to the handler and waits for the calls under way (the broker settles them when the plugin does).
   */
  drain?(signal?: AbortSignal): Promise<void>;
  /** Stops at once: messages handed to the handler and not answered yet go back to the broker (with HAND_BACK). */
  close(): Promise<void>;
}

export interface PubSub extends Component {
  features(): PubSubFeature[];
  /** Resolves once the broker accepted the message; throws when it did not. */
  publish(req: PublishRequest): Promise<void>;
  bulkPublish(reqs: PublishRequest[]): Promise<BulkPublishResult>;
  subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Subscription>;
}

/** Backoff between redeliveries: 100 ms doubling to a 10 s ceiling (attempt is the one that just failed). */
export function redeliveryDelayMs(attempt: number, initialMs = 100, maxMs = 10_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}
