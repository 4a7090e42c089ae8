// Handing events to the app: HTTP POST /{route} with the CloudEvent, or gRPC OnTopicEvent / OnBulkTopicEvent, with
// the message's metadata (pubsubname among it) as HTTP headers or gRPC metadata, as daprd sends it. A rawPayload
// subscription's event is a CloudEvent too (cloudevents.ts rawPayloadEvent). The app's answer becomes success / retry /
// drop; an app that is down or hangs means retry.
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { RuntimeConfig } from "../../runtime/config.js";
import type { AppChannel } from "../../app/channel.js";
import { deadlineIn, msLeft } from "../../app/deadline.js";
import type { HandlerResult } from "../../components/contracts/pubsub.js";
import { AppCallbackAlpha, TopicEventResponse_TopicEventResponseStatus as PbStatus } from "../../gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { eventData, type CloudEvent } from "./cloudevents.js";
import { parseJson } from "../../json.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const CE_ATTRS = new Set(["id", "source", "type", "specversion", "datacontenttype", "data", "data_base64", "topic", "pubsubname"]);

export interface DeliveryOptions {
  pubsubName: string;
  topic: string;
  path: string;
  /** Subscription metadata rawPayload=true: bulk entries carry the broker's bytes (base64 over HTTP), not CloudEvents. */
  rawPayload: boolean;
  timeoutMs: number;
  /** AppCallbackAlpha, for bulk delivery to gRPC apps without the stable OnBulkTopicEvent. */
  alpha?: Client<typeof AppCallbackAlpha>;
}

/** An AppCallbackAlpha client for a gRPC app (undefined for HTTP apps or without --app-port). */
export function alphaCallback(config: RuntimeConfig): Client<typeof AppCallbackAlpha> | undefined {
  if (config.appPort === undefined || (config.appProtocol !== "grpc" && config.appProtocol !== "grpcs")) return undefined;
  const scheme = config.appProtocol === "grpcs" ? "https" : "http";
  const token = config.appApiToken;
  return createClient(AppCallbackAlpha, createGrpcTransport({
    baseUrl: `${scheme}://${config.appChannelAddress}:${config.appPort}`,
    interceptors: token ? [(next) => (req) => (req.header.set("dapr-api-token", token), next(req))] : [],
  }));
}

function statusFromText(s: unknown): HandlerResult | undefined {
  if (typeof s !== "string") return undefined;
  const u = s.toUpperCase();
  return u === "SUCCESS" ? "success" : u === "DROP" ? "drop" : u === "RETRY" ? "retry" : undefined;
}

function statusFromPb(s: PbStatus): HandlerResult {
  return s === PbStatus.DROP ? "drop" : s === PbStatus.RETRY ? "retry" : "success";
}

/** HTTP: 2xx with {"status": "SUCCESS|RETRY|DROP"} (none = success), 404 = drop, anything else = retry. */
export function resultFromHttp(status: number, body: Uint8Array): HandlerResult {
  if (status === 404) return "drop";
  if (status < 200 || status > 299) return "retry";
  if (body.length === 0) return "success";
  let parsed: unknown;
  try {
    parsed = parseJson(dec.decode(body));
  } catch {
    return "success";
  }
  if (!parsed || typeof parsed !== "object" || !("status" in parsed)) return "success";
  const s = (parsed as { status: unknown }).status;
  if (s === "" || s === undefined || s === null) return "success";
  return statusFromText(s) ?? "retry";
}

/** Names the app must not get from a message's metadata: framing, credentials, and what delivery sets itself. */
const RESERVED_METADATA = /^(?:content-type|content-length|transfer-encoding|connection|keep-alive|upgrade|host|te|trailer|user-agent|dapr-api-token|traceparent|tracestate|topic|grpc-.*|.*-bin)$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * A message's metadata as headers for the app (HTTP headers or gRPC metadata, lower-case names), with pubsubname
 * and topic; entries that cannot be a header, or that delivery sets itself, are left out.
 */
export function metadataHeaders(metadata: Record<string, string>, o: { pubsubName: string; topic: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const k = key.toLowerCase();
    if (HEADER_NAME.test(k) && !RESERVED_METADATA.test(k) && typeof value === "string" && HEADER_VALUE.test(value)) out[k] = value;
  }
  out.pubsubname = o.pubsubName;
  out.topic = o.topic;
  return out;
}

/**
 * `encoded`: the event's JSON bytes as they came off the broker, sent as they are instead of re-serializing `ce`;
 * `metadata`: the message's metadata, passed on as headers.
 */
export async function deliverOne(app: AppChannel, ce: CloudEvent, o: DeliveryOptions, encoded?: Uint8Array, metadata: Record<string, string> = {}): Promise<HandlerResult> {
  // An app that its health probes call unhealthy gets no events; they wait on the broker (Dapr pauses subscriptions).
  if (!app.isHealthy()) return "retry";
  // The limit covers the whole delivery, the wait for an --app-max-concurrency slot included.
  const deadline = deadlineIn(o.timeoutMs);
  try {
    const headers = metadataHeaders(metadata, o);
    if (app.protocol === "grpc") {
      if (!app.callback) return "retry";
      const res = await app.run(() => app.callback!.onTopicEvent(topicEventRequest(ce, o), { timeoutMs: msLeft(deadline, "OnTopicEvent"), headers }));
      return statusFromPb(res.status);
    }
    headers["content-type"] = "application/cloudevents+json";
    if (typeof ce.traceparent === "string") headers.traceparent = ce.traceparent;
    if (typeof ce.tracestate === "string") headers.tracestate = ce.tracestate;
    const body = encoded ?? enc.encode(JSON.stringify(ce));
    // invoke() reaches an HTTP app over the channel's pooled keep-alive client (cheaper than fetch).
    const res = await app.invoke({ method: "POST", path: o.path, headers, body, deadline });
    return resultFromHttp(res.status, res.body);
  } catch {
    return "retry";
  }
}

/** The CloudEvent's fields as gRPC TopicEventRequest / TopicEventCERequest carry them. */
function cloudEventFields(ce: CloudEvent) {
  const extensions: JsonObject = {};
  for (const [k, v] of Object.entries(ce)) if (!CE_ATTRS.has(k)) extensions[k] = v as JsonObject[string];
  return {
    id: ce.id,
    source: ce.source,
    type: ce.type,
    specVersion: ce.specversion,
    dataContentType: String(ce.datacontenttype ?? ""),
    data: eventData(ce),
    extensions,
  };
}

export function topicEventRequest(ce: CloudEvent, o: { pubsubName: string; topic: string; path: string }) {
  return { ...cloudEventFields(ce), topic: o.topic, pubsubName: o.pubsubName, path: o.path };
}

export interface BulkEntry {
  entryId: string;
  ce: CloudEvent;
  /** The message's metadata from the broker. */
  metadata: Record<string, string>;
}

/** daprd's content types of bulk entries: the broker's bytes for rawPayload subscriptions, CloudEvents otherwise. */
const RAW_ENTRY = "application/octet-stream";
const CLOUDEVENT_ENTRY = "application/cloudevents+json";

/** Bulk delivery: one call with many entries; the app answers a status per entry (missing = retry). */
export async function deliverBulk(app: AppChannel, entries: BulkEntry[], o: DeliveryOptions): Promise<Map<string, HandlerResult>> {
  const out = new Map<string, HandlerResult>();
  const all = (r: HandlerResult) => {
    for (const e of entries) out.set(e.entryId, r);
    return out;
  };
  if (!app.isHealthy()) return all("retry");
  const deadline = deadlineIn(o.timeoutMs);
  const headers = metadataHeaders({}, o);
  try {
    if (app.protocol === "grpc") {
      if (!app.callback) return all("retry");
      const req = {
        id: crypto.randomUUID(),
        topic: o.topic,
        pubsubName: o.pubsubName,
        path: o.path,
        type: "com.dapr.event.sent.bulk",
        metadata: { pubsubName: o.pubsubName },
        entries: entries.map((e) => ({
          entryId: e.entryId,
          contentType: o.rawPayload ? RAW_ENTRY : CLOUDEVENT_ENTRY,
          metadata: e.metadata,
          event: o.rawPayload
            ? { case: "bytes" as const, value: eventData(e.ce) }
            : { case: "cloudEvent" as const, value: cloudEventFields(e.ce) },
        })),
      };
      let res;
      try {
        res = await app.run(() => app.callback!.onBulkTopicEvent(req, { timeoutMs: msLeft(deadline, "OnBulkTopicEvent"), headers }));
      } catch (err) {
        // SDKs that predate the stable method (the JS SDK among them) only serve AppCallbackAlpha.
        if (!o.alpha || ConnectError.from(err).code !== Code.Unimplemented) throw err;
        res = await app.run(() => o.alpha!.onBulkTopicEventAlpha1(req, { timeoutMs: msLeft(deadline, "OnBulkTopicEventAlpha1"), headers }));
      }
      for (const s of res.statuses) out.set(s.entryId, statusFromPb(s.status));
    } else {
      const body = {
        id: crypto.randomUUID(),
        topic: o.topic,
        pubsubname: o.pubsubName,
        type: "com.dapr.event.sent.bulk",
        metadata: { pubsubName: o.pubsubName },
        entries: entries.map((e) => ({
          entryId: e.entryId,
          event: o.rawPayload ? Buffer.from(eventData(e.ce)).toString("base64") : e.ce,
          contentType: o.rawPayload ? RAW_ENTRY : CLOUDEVENT_ENTRY,
          metadata: e.metadata,
        })),
      };
      const res = await app.invoke({ method: "POST", path: o.path, headers: { ...headers, "content-type": "application/json" }, body: enc.encode(JSON.stringify(body)), deadline });
      if (res.status === 404) return all("drop");
      if (res.status < 200 || res.status > 299) return all("retry");
      const parsed = res.body.length ? (parseJson(dec.decode(res.body)) as { statuses?: { entryId?: string; status?: string }[] }) : {};
      if (!parsed.statuses) return all("success");
      for (const s of parsed.statuses) if (s.entryId) out.set(s.entryId, statusFromText(s.status) ?? "retry");
    }
  } catch {
    return all("retry");
  }
  for (const e of entries) if (!out.has(e.entryId)) out.set(e.entryId, "retry");
  return out;
}
