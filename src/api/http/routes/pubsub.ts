// HTTP: POST /v1.0/publish/{pubsub}/{topic} and bulk publish. (The outside-subscriber WebSocket: pubsub-outside.ts.)
import type { HttpEndpoint } from "../../../runtime/block.js";
import type { ApiContext } from "../../context.js";
import { pubsubSlot, type PubsubBlock, type BulkPublishEntry } from "../../../blocks/pubsub/pubsub-block.js";
import { isCloudEventContentType, isJsonContentType } from "../../../blocks/pubsub/cloudevents.js";
import { errors } from "../../../errors.js";
import { dictionary } from "../../../dictionary.js";
import { decodedSegment, encoder, json, jsonType, noContent, queryMetadata, readJson, stringMetadata } from "../respond.js";

const PUBLISH_PREFIX = "/v1.0/publish/";

export function pubsubBlockOf(ctx: ApiContext): PubsubBlock {
  const block = ctx.blocks.get(pubsubSlot);
  if (!block) throw errors.pubsubNotConfigured("the pub/sub block is not running");
  return block;
}

/** Elysia leaves the wildcard percent-encoded; topics may contain "/". */
function topicParam(params: Record<string, string>): string {
  const t = params["*"] ?? "";
  return decodedSegment(t) ?? t;
}

export function pubsubEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const publish = ({ params, request }: { params: Record<string, string>; request: Request }) =>
    publishOverHttp(ctx, request, params.pubsub, topicParam(params));
  const bulk = async ({ params, request }: { params: Record<string, string>; request: Request }) => {
    const url = new URL(request.url);
    const body = await readJson(request, `bulk publish to ${params.pubsub}`, ctx.config.maxRequestBodyBytes, errors.pubsubEventsSer);
    if (!Array.isArray(body)) throw errors.pubsubEventsSer("bulk publish body must be a JSON array of {entryId, event, contentType}");
    const entries: BulkPublishEntry[] = body.map((e, i) => bulkEntry(e, i));
    const out = await pubsubBlockOf(ctx).bulkPublish(params.pubsub, topicParam(params), entries, queryMetadata(url), request.headers.get("traceparent") ?? undefined);
    if (out.failedEntries.length === 0) return noContent();
    return json({ failedEntries: out.failedEntries, errorCode: "ERR_PUBSUB_PUBLISH_MESSAGE" }, 500);
  };
  const ep = (name: string, version: HttpEndpoint["version"], route: string, handler: HttpEndpoint["handler"]): HttpEndpoint =>
    ({ name, methods: ["POST"], route, version, group: "publish", handler, rawBody: true });
  return [
    { ...ep("PublishEvent", "v1.0", "/publish/:pubsub/*", publish), hot: (request, pathname) => hotPublish(ctx, request, pathname) },
    ep("BulkPublishEvent", "v1.0-alpha1", "/publish/bulk/:pubsub/*", bulk),
    ep("BulkPublishEvent", "v1.0", "/publish/bulk/:pubsub/*", bulk),
  ];
}

/** POST /v1.0/publish/{pubsub}/{topic} ahead of the Elysia router; undefined leaves the request to it. */
function hotPublish(ctx: ApiContext, request: Request, pathname: string): Promise<Response> | undefined {
  if (request.method !== "POST" || !pathname.startsWith(PUBLISH_PREFIX)) return undefined;
  const rest = pathname.slice(PUBLISH_PREFIX.length);
  if (rest.startsWith("bulk/")) return undefined; // /v1.0/publish/bulk/{pubsub}/{topic}: the bulk route, as in daprd
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const pubsub = decodedSegment(rest.slice(0, slash));
  const topic = decodedSegment(rest.slice(slash + 1));
  if (pubsub === undefined || !topic) return undefined;
  return publishOverHttp(ctx, request, pubsub, topic);
}

async function publishOverHttp(ctx: ApiContext, request: Request, pubsubName: string, topic: string): Promise<Response> {
  await pubsubBlockOf(ctx).publish({
    pubsubName,
    topic,
    data: new Uint8Array(await request.arrayBuffer()),
    contentType: request.headers.get("content-type") ?? undefined,
    metadata: queryMetadata(new URL(request.url)),
    traceparent: request.headers.get("traceparent") ?? undefined,
    tracestate: request.headers.get("tracestate") ?? undefined,
  });
  return noContent();
}

function bulkEntry(e: unknown, i: number): BulkPublishEntry {
  const where = `entries[${i}]`;
  if (!e || typeof e !== "object" || Array.isArray(e)) throw errors.pubsubEventsSer(`${where} must be an object {entryId, event, contentType}`);
  // daprd decodes with Go's case-insensitive field matching, and the JS SDK sends "entryID": do the same.
  const o = dictionary<unknown>();
  for (const [k, v] of Object.entries(e)) {
    const canonical = ["entryId", "event", "contentType", "metadata"].find((f) => f.toLowerCase() === k.toLowerCase());
    o[canonical ?? k] = v;
  }
  for (const field of ["entryId", "contentType"]) {
    const v = o[field];
    if (v !== undefined && v !== null && typeof v !== "string") throw errors.pubsubEventsSer(`${where}: "${field}" must be a string, got ${jsonType(v)}`);
  }
  const contentType = typeof o.contentType === "string" && o.contentType ? o.contentType : typeof o.event === "string" ? "text/plain" : "application/json";
  let event: Uint8Array;
  if (typeof o.event === "string" && !isJsonContentType(contentType) && !isCloudEventContentType(contentType)) event = encoder.encode(o.event);
  else event = encoder.encode(JSON.stringify(o.event ?? null));
  const metadata = stringMetadata(o.metadata, `${where}:`, errors.pubsubEventsSer) ?? {};
  return { entryId: (o.entryId as string | null | undefined) ?? "", event, contentType, metadata };
}
