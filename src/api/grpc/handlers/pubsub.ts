// gRPC: PublishEvent, BulkPublishEvent(Alpha1) and SubscribeTopicEventsAlpha1 of dapr.proto.runtime.v1.Dapr.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { BulkPublishRequest, SubscribeTopicEventsRequestAlpha1 } from "../../../gen/dapr/proto/runtime/v1/pubsub_pb.js";
import { TopicEventResponse_TopicEventResponseStatus as PbStatus } from "../../../gen/dapr/proto/runtime/v1/appcallback_pb.js";
import type { ApiContext } from "../../context.js";
import type { HandlerResult } from "../../../components/contracts/pubsub.js";
import type { CloudEvent } from "../../../blocks/pubsub/cloudevents.js";
import { topicEventRequest } from "../../../blocks/pubsub/delivery.js";
import { normalizePath } from "../../../blocks/pubsub/subscriptions.js";
import { errors } from "../../../errors.js";
import { pubsubSlot } from "../../../blocks/pubsub/pubsub-block.js";
import { asConnectError } from "./pubsub-outside.js";

function blockOf(ctx: ApiContext) {
  const block = ctx.blocks.get(pubsubSlot);
  if (!block) throw errors.pubsubNotConfigured("the pub/sub block is not running");
  return block;
}

export function pubsubHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  const bulk = async (req: BulkPublishRequest, hc: HandlerContext) => {
    const out = await blockOf(ctx).bulkPublish(
      req.pubsubName,
      req.topic,
      req.entries.map((e) => ({ entryId: e.entryId, event: e.event, contentType: e.contentType, metadata: e.metadata })),
      req.metadata,
      hc.requestHeader.get("traceparent") ?? undefined,
    );
    return { failedEntries: out.failedEntries };
  };
  return {
    async publishEvent(req, hc) {
      await blockOf(ctx).publish({
        pubsubName: req.pubsubName,
        topic: req.topic,
        data: req.data,
        contentType: req.dataContentType || undefined,
        metadata: req.metadata,
        traceparent: hc.requestHeader.get("traceparent") ?? undefined,
        tracestate: hc.requestHeader.get("tracestate") ?? undefined,
      });
      return {};
    },
    bulkPublishEventAlpha1: bulk,
    bulkPublishEvent: bulk,
    async *subscribeTopicEventsAlpha1(requests, hc) {
      try {
        yield* streamSubscription(ctx, requests, hc.signal);
      } catch (err) {
        throw asConnectError(err);
      }
    },
  };
}

const statusOf = (s: PbStatus | undefined): HandlerResult => (s === PbStatus.DROP ? "drop" : s === PbStatus.RETRY ? "retry" : "success");

/** A streaming subscription: events go down the stream; the client answers each by id with SUCCESS/RETRY/DROP. */
async function* streamSubscription(ctx: ApiContext, requests: AsyncIterable<SubscribeTopicEventsRequestAlpha1>, signal: AbortSignal) {
  const block = blockOf(ctx);
  const it = requests[Symbol.asyncIterator]();
  const first = await it.next();
  const init = first.done ? undefined : first.value.subscribeTopicEventsRequestType;
  if (init?.case !== "initialRequest") throw errors.malformedRequest("the first message of SubscribeTopicEventsAlpha1 must be an initial request");
  const { pubsubName, topic, metadata, deadLetterTopic } = init.value;
  if (!topic) throw errors.pubsubTopicEmpty("topic is empty");
  block.component(pubsubName);

  const outbox: CloudEvent[] = [];
  const waiting = new Map<string, (r: HandlerResult) => void>();
  let wake: (() => void) | undefined;
  let ended = false;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const end = () => {
    ended = true;
    for (const resolve of waiting.values()) resolve("retry");
    waiting.clear();
    poke();
  };
  signal.addEventListener("abort", end, { once: true });
  void (async () => {
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const t = r.value.subscribeTopicEventsRequestType;
        if (t.case !== "eventProcessed") continue;
        const resolve = waiting.get(t.value.id);
        waiting.delete(t.value.id);
        resolve?.(statusOf(t.value.status?.status));
      }
    } catch {
      // the client went away
    }
    end();
  })();

  const close = await block.subscribeStream(
    { pubsubName, topic, rules: [], defaultPath: normalizePath(topic), deadLetterTopic: deadLetterTopic || undefined, metadata, kind: "streaming" },
    (ce) => {
      if (ended) return Promise.resolve("retry");
      return new Promise<HandlerResult>((resolve) => {
        waiting.set(ce.id, resolve);
        outbox.push(ce);
        poke();
      });
    },
  );
  try {
    yield { subscribeTopicEventsResponseType: { case: "initialResponse" as const, value: {} } };
    while (!ended) {
      if (!outbox.length) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const ce = outbox.shift()!;
      yield { subscribeTopicEventsResponseType: { case: "eventMessage" as const, value: topicEventRequest(ce, { pubsubName, topic, path: "" }) } };
    }
  } finally {
    end();
    await close();
  }
}
