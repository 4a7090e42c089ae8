// Dapr's stream entry layout for pubsub.redis: field `data` (the message bytes) and, when the publish request had
// metadata, `metadata` (its JSON). rapr adds `contentType` when it is not a CloudEvent; daprd ignores that field.
import type { PublishRequest, PubSubMessage } from "../../src/components/contracts/pubsub.js";

export const CLOUDEVENT_JSON = "application/cloudevents+json";

/** One entry of a stream as ioredis' Buffer replies give it: [id, [field, value, field, value, …]]. */
export type RawEntry = [Buffer, Buffer[] | null];

export interface Entry {
  id: string;
  data: Uint8Array;
  contentType: string;
  metadata: Record<string, string>;
}

/** The field/value pairs XADD writes for `req`. */
export function entryFields(req: PublishRequest): (string | Buffer)[] {
  const fields: (string | Buffer)[] = ["data", Buffer.from(req.data.buffer, req.data.byteOffset, req.data.byteLength)];
  if (req.metadata && Object.keys(req.metadata).length) fields.push("metadata", JSON.stringify(req.metadata));
  if (req.contentType && req.contentType !== CLOUDEVENT_JSON) fields.push("contentType", req.contentType);
  return fields;
}

/** An entry read back; undefined for one deleted from the stream (trimmed) while it was pending. */
export function parseEntry([id, fields]: RawEntry): Entry | undefined {
  if (!fields) return undefined;
  const entry: Entry = { id: id.toString(), data: new Uint8Array(0), contentType: CLOUDEVENT_JSON, metadata: {} };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i].toString();
    if (name === "data") entry.data = fields[i + 1];
    else if (name === "contentType") entry.contentType = fields[i + 1].toString();
    else if (name === "metadata") entry.metadata = stringMap(fields[i + 1].toString());
  }
  return entry;
}

/** A JSON object's string-valued members (daprd writes a map[string]string); anything else gives {}. */
function stringMap(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === "string") out[k] = v;
    }
  } catch {
    // Not JSON: no metadata.
  }
  return out;
}

export function toMessage(topic: string, e: Entry, deliveryAttempt: number, maxAttempts: number): PubSubMessage {
  return { topic, data: e.data, contentType: e.contentType, metadata: e.metadata, deliveryAttempt, maxAttempts };
}

/** The entries of an XREAD / XREADGROUP reply (one stream). */
export function streamEntries(reply: [Buffer, RawEntry[]][] | null): RawEntry[] {
  return reply?.[0]?.[1] ?? [];
}
