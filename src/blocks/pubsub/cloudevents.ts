// CloudEvents 1.0 (JSON format) as Dapr writes them: the envelope around a published payload, and the checks
// applied to an application/cloudevents+json body that a publisher sends as is.
import { randomUUID } from "node:crypto";
import { errors } from "../../errors.js";
import { MAX_JSON_DEPTH, parseJson } from "../../json.js";

export type CloudEvent = Record<string, unknown> & { id: string; source: string; type: string; specversion: string };

export const DEFAULT_EVENT_TYPE = "com.dapr.event.sent";
const enc = new TextEncoder();
const dec = new TextDecoder();
const strictDec = new TextDecoder("utf-8", { fatal: true });

export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const base = ct.split(";")[0].trim().toLowerCase();
  return base === "application/json" || base.endsWith("+json");
}

export function isCloudEventContentType(ct: string | undefined): boolean {
  return !!ct && ct.split(";")[0].trim().toLowerCase() === "application/cloudevents+json";
}

function isTextContentType(ct: string): boolean {
  const base = ct.split(";")[0].trim().toLowerCase();
  return base.startsWith("text/") || base === "application/xml";
}

export interface EnvelopeInput {
  data: Uint8Array;
  contentType?: string;
  source: string;
  topic: string;
  pubsubName: string;
  traceparent?: string;
  tracestate?: string;
  /** Overrides from metadata.cloudevent.* (id, source, type, …). */
  overrides?: Record<string, string>;
}

/** Wraps a payload: JSON stays JSON in "data", text becomes a string, anything else goes to "data_base64". */
export function wrapInCloudEvent(input: EnvelopeInput): CloudEvent {
  const contentType = input.contentType || "text/plain";
  const ce: CloudEvent = {
    specversion: "1.0",
    id: randomUUID(),
    source: input.source,
    type: DEFAULT_EVENT_TYPE,
    datacontenttype: contentType,
    time: new Date().toISOString(),
    topic: input.topic,
    pubsubname: input.pubsubName,
  };
  setData(ce, input.data, contentType);
  addTracing(ce, input.traceparent, input.tracestate);
  for (const [k, v] of Object.entries(input.overrides ?? {})) ce[k] = v;
  return ce;
}

function setData(ce: CloudEvent, data: Uint8Array, contentType: string) {
  if (data.length === 0) return;
  if (isJsonContentType(contentType)) {
    try {
      ce.data = parseJson(dec.decode(data));
      return;
    } catch (err) {
      throw errors.pubsubCloudEventsSer(`the payload is declared ${contentType} but is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (isTextContentType(contentType)) ce.data = dec.decode(data);
  else ce.data_base64 = Buffer.from(data).toString("base64");
}

function addTracing(ce: CloudEvent, traceparent?: string, tracestate?: string) {
  if (!traceparent) return;
  ce.traceparent = traceparent;
  ce.traceid = traceparent;
  if (tracestate) ce.tracestate = tracestate;
}

/**
 * A body the publisher declared application/cloudevents+json: must be a JSON object with specversion 1.0 (when
 * given) and string id/source/type (filled in when missing, as Dapr does); topic, pubsubname and tracing are added.
 */
export function acceptCloudEvent(body: Uint8Array, fill: Omit<EnvelopeInput, "data" | "contentType">): CloudEvent {
  let parsed: unknown;
  try {
    parsed = parseJson(dec.decode(body));
  } catch (err) {
    throw errors.pubsubCloudEventsSer(`the body is declared application/cloudevents+json but is not JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw errors.pubsubCloudEventsSer("a CloudEvent must be a JSON object");
  const ce = parsed as Record<string, unknown>;
  if (ce.specversion !== undefined && ce.specversion !== "1.0") throw errors.pubsubCloudEventsSer(`unsupported CloudEvents specversion ${JSON.stringify(ce.specversion)}, expected "1.0"`);
  for (const attr of ["id", "source", "type", "datacontenttype", "subject", "time", "dataschema"]) {
    if (ce[attr] !== undefined && (typeof ce[attr] !== "string" || ce[attr] === "")) throw errors.pubsubCloudEventsSer(`CloudEvent attribute "${attr}" must be a non-empty string`);
  }
  if (ce.data !== undefined && ce.data_base64 !== undefined) throw errors.pubsubCloudEventsSer('a CloudEvent carries "data" or "data_base64", not both');
  if (ce.data_base64 !== undefined && typeof ce.data_base64 !== "string") throw errors.pubsubCloudEventsSer('CloudEvent "data_base64" must be a string');
  ce.specversion = "1.0";
  ce.id ??= randomUUID();
  ce.source ??= fill.source;
  ce.type ??= DEFAULT_EVENT_TYPE;
  ce.topic = fill.topic;
  ce.pubsubname = fill.pubsubName;
  if (ce.traceparent === undefined) addTracing(ce as CloudEvent, fill.traceparent, fill.tracestate);
  for (const [k, v] of Object.entries(fill.overrides ?? {})) ce[k] = v;
  return ce as CloudEvent;
}

export function encodeCloudEvent(ce: CloudEvent): Uint8Array {
  return enc.encode(JSON.stringify(ce));
}

export interface BrokerEvent {
  ce: CloudEvent;
  /** The CloudEvent's bytes as they came, when they can go to an app as they are (clean UTF-8 JSON). */
  verbatim?: Uint8Array;
}

/**
 * What came off the broker, as a CloudEvent: a JSON CloudEvent stays one; anything else (a raw payload) is wrapped
 * so routing rules and subscribers see the same shape.
 */
export function eventFromBroker(data: Uint8Array, contentType: string | undefined, fill: { topic: string; pubsubName: string }): BrokerEvent {
  if (!contentType || isJsonContentType(contentType) || isCloudEventContentType(contentType)) {
    try {
      let text: string;
      let clean = data[0] === 0x7b; // "{" first: no BOM, no leading whitespace
      try {
        text = strictDec.decode(data);
      } catch {
        text = dec.decode(data);
        clean = false;
      }
      // The envelope is one level around a payload that was held to the limit when it was published.
      const v = parseJson(text, MAX_JSON_DEPTH + 1) as { specversion?: unknown } | null;
      if (v && typeof v === "object" && !Array.isArray(v) && typeof v.specversion === "string") {
        return { ce: v as CloudEvent, verbatim: clean ? data : undefined };
      }
    } catch {
      // not JSON: a raw payload
    }
  }
  const ct = contentType && !isCloudEventContentType(contentType) ? contentType : "application/octet-stream";
  const ce: CloudEvent = { specversion: "1.0", id: randomUUID(), source: "", type: DEFAULT_EVENT_TYPE, topic: fill.topic, pubsubname: fill.pubsubName, datacontenttype: ct };
  try {
    setData(ce, data, ct);
  } catch {
    ce.data_base64 = Buffer.from(data).toString("base64");
  }
  return { ce };
}

/** daprd's source for events it builds on the subscriber's side. */
const SUBSCRIBER_SIDE_SOURCE = "Dapr";

/**
 * A rawPayload subscription's event, as daprd builds it: the broker's bytes as they are (a CloudEvent's too) in
 * "data_base64" of a new CloudEvent (application/octet-stream, a new id); tracing comes from the message's metadata.
 */
export function rawPayloadEvent(data: Uint8Array, fill: { topic: string; pubsubName: string }, metadata: Record<string, string>): CloudEvent {
  const ce: CloudEvent = {
    specversion: "1.0",
    id: randomUUID(),
    source: SUBSCRIBER_SIDE_SOURCE,
    type: DEFAULT_EVENT_TYPE,
    datacontenttype: "application/octet-stream",
    topic: fill.topic,
    pubsubname: fill.pubsubName,
    data_base64: Buffer.from(data).toString("base64"),
  };
  if (metadata.traceid) ce.traceid = metadata.traceid;
  addTracing(ce, metadata.traceparent, metadata.tracestate);
  return ce;
}

/** The payload bytes of an event (for gRPC delivery and raw-payload subscribers). */
export function eventData(ce: CloudEvent): Uint8Array {
  if (typeof ce.data_base64 === "string") return new Uint8Array(Buffer.from(ce.data_base64, "base64"));
  if (ce.data === undefined) return new Uint8Array();
  if (typeof ce.data === "string" && !isJsonContentType(ce.datacontenttype as string | undefined)) return enc.encode(ce.data);
  return enc.encode(JSON.stringify(ce.data));
}
