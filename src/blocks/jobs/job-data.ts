// A job's data in its two shapes: JSON from the HTTP API, a protobuf Any from gRPC (kept as type URL + base64).
// Each front reads it in its own shape, and the app gets it as daprd sends it.
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, type Any, AnySchema, ValueSchema } from "@bufbuild/protobuf/wkt";

export interface StoredAny {
  typeUrl: string;
  /** base64 */
  value: string;
}

/** What a stored job carries as its payload: one of the two. */
export interface JobPayload {
  data?: unknown;
  any?: StoredAny;
}

const VALUE_TYPE = "type.googleapis.com/google.protobuf.Value";

export function payloadOfAny(any: Any | undefined): JobPayload {
  if (!any || (!any.typeUrl && any.value.length === 0)) return {};
  return { any: { typeUrl: any.typeUrl, value: Buffer.from(any.value).toString("base64") } };
}

/** For gRPC: the Any as given, or the JSON data packed as a google.protobuf.Value (as daprd stores HTTP data). */
export function anyOfPayload(p: JobPayload): Any | undefined {
  if (p.any) return create(AnySchema, { typeUrl: p.any.typeUrl, value: Buffer.from(p.any.value, "base64") });
  if (p.data === undefined) return undefined;
  return anyPack(ValueSchema, fromJson(ValueSchema, p.data as JsonValue));
}

/** For HTTP: the JSON data, a google.protobuf.Value unpacked, or any other Any as protojson's {"@type","value"}. */
export function jsonOfPayload(p: JobPayload): unknown {
  if (!p.any) return p.data;
  if (p.any.typeUrl === VALUE_TYPE) return toJson(ValueSchema, fromBinaryValue(p.any.value));
  return { "@type": p.any.typeUrl, value: p.any.value };
}

/** The body an HTTP app gets: JSON for JSON data and Values, the Any's raw bytes otherwise. */
export function httpBodyOfPayload(p: JobPayload): { body?: Uint8Array; contentType: string } {
  if (p.any && p.any.typeUrl !== VALUE_TYPE) return { body: Buffer.from(p.any.value, "base64"), contentType: "application/octet-stream" };
  const json = jsonOfPayload(p);
  return { body: json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json)), contentType: "application/json" };
}

function fromBinaryValue(base64: string) {
  return anyUnpack(create(AnySchema, { typeUrl: VALUE_TYPE, value: Buffer.from(base64, "base64") }), ValueSchema)!;
}
