// HTTP: POST|PUT /v1.0/bindings/{name} with {"data": …, "metadata": {…}, "operation": "…"}.
import type { HttpEndpoint } from "../../../runtime/block.js";
import type { ApiContext } from "../../context.js";
import { bindingsSlot, withCallerMetadata, type BindingsBlock } from "../../../blocks/bindings/bindings-block.js";
import { errors } from "../../../errors.js";
import { encoder, jsonType, readJson, stringMetadata } from "../respond.js";

export interface OutputBindingCall {
  operation: string;
  data: Uint8Array;
  metadata: Record<string, string>;
}

function blockOf(ctx: ApiContext, name: string): BindingsBlock {
  const block = ctx.blocks.get(bindingsSlot);
  if (!block) throw errors.invokeOutputBinding(name, "the bindings block is not running");
  return block;
}

/**
 * The request body, checked field by field. `data` may be any JSON value and reaches the binding as its JSON
 * encoding, as daprd sends it: a string keeps its quotes (storage bindings unquote it), no data is `null`.
 */
export function parseOutputBindingCall(body: unknown, name: string): OutputBindingCall {
  const where = `output binding ${name}`;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw errors.malformedRequest(`${where}: request body must be a JSON object {"data", "metadata", "operation"}`);
  }
  // daprd decodes with Go's case-insensitive field matching (the last of "data" and "Data" wins): so does this.
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const lower = k.toLowerCase();
    if (lower === "data" || lower === "metadata" || lower === "operation") fields[lower] = v;
  }
  const { data, metadata, operation } = fields;
  if (operation !== undefined && operation !== null && typeof operation !== "string") {
    throw errors.malformedRequest(`${where}: field "operation" must be a string, got ${jsonType(operation)}`);
  }
  const md = stringMetadata(metadata, `${where}: field`) ?? {};
  return { operation: operation ?? "", data: encoder.encode(JSON.stringify(data === undefined ? null : data)), metadata: md };
}

/** Response metadata as "metadata.<key>" headers, as Dapr sends them; entries that cannot be headers are left out. */
function metadataHeaders(metadata: Record<string, string>, contentType: string | undefined): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(metadata)) {
    try {
      headers.append(`metadata.${k}`, v);
    } catch {
      // not a valid header name or value
    }
  }
  if (contentType) headers.set("content-type", contentType);
  return headers;
}

export function bindingsEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const maxBody = ctx.config.maxRequestBodyBytes;
  const invoke: HttpEndpoint["handler"] = async ({ params, request }) => {
    // Elysia decodes the segment, and hands over null when it is not valid percent-encoded UTF-8.
    const name = params.name as string | null;
    if (typeof name !== "string") throw errors.malformedRequest("the binding name in the URL is not valid percent-encoded UTF-8");
    const call = parseOutputBindingCall(await readJson(request, `output binding ${name}`, maxBody), name);
    // As Dapr does, the caller's trace context reaches the binding (bindings.http forwards it).
    const metadata = withCallerMetadata(call.metadata, request.headers, "http");
    const res = await blockOf(ctx, name).invoke(name, call.operation, call.data, metadata, request.signal);
    // As daprd: 204 only when the binding answered nothing at all; otherwise 200, application/json unless the
    // binding names its content type, the body possibly empty.
    if (!res) return new Response(null, { status: 204 });
    const headers = metadataHeaders(res.metadata, res.contentType || "application/json");
    return new Response(res.data.length ? (res.data as Uint8Array<ArrayBuffer>) : null, { status: 200, headers });
  };
  return [{ name: "InvokeBinding", methods: ["POST", "PUT"], route: "/bindings/:name", version: "v1.0", group: "bindings", handler: invoke, rawBody: true }];
}
