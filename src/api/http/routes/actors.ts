// HTTP: /v1.0/actors/{type}/{id}/method|state|reminders|timers (daprd's pkg/api/http/actors.go).
import type { ApiContext } from "../../context.js";
import type { HttpEndpoint, HttpMethod } from "../../../runtime/block.js";
import { actorsOf } from "../../../blocks/actors/slot.js";
import { actorErrors } from "../../../blocks/actors/errors.js";
import type { ActorStateOp } from "../../../blocks/actors/actor-state.js";
import { REENTRANCY_HEADER } from "../../../blocks/actors/app-client.js";
import { json, noContent, queryOf, readBody, readJson, stringMetadata, encoder, jsonType } from "../respond.js";

type Handler = HttpEndpoint["handler"];

/** Headers of the caller that stay with the sidecar. */
const NOT_FORWARDED = new Set(["dapr-api-token", "host", "content-length", "connection"]);

export function actorsEndpoints(ctx: ApiContext): HttpEndpoint[] {
  const max = ctx.config.maxRequestBodyBytes;
  const ep = (name: string, methods: readonly HttpMethod[], tail: string, handler: Handler, rawBody = false): HttpEndpoint => ({
    name, methods, route: `/actors/:actorType/:actorId/${tail}`, version: "v1.0", group: "actors", rawBody,
    handler: ({ params, request }) => {
      for (const p of ["actorType", "actorId", "name", "key", "method"]) {
        if (p in params && typeof params[p] !== "string") throw actorErrors.badRequest(`the ${p} in the URL is not valid percent-encoded UTF-8`);
      }
      return handler({ params, request });
    },
  });
  const body = async (request: Request, what: string): Promise<Record<string, unknown>> => {
    const raw = await readJson(request, what, max, actorErrors.malformedRequest);
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw actorErrors.malformedRequest(`${what}: the body must be a JSON object, got ${jsonType(raw)}`);
    return raw as Record<string, unknown>;
  };
  const times = (b: Record<string, unknown>) => ({
    dueTime: optString(b, "dueTime"), period: optString(b, "period"), ttl: optString(b, "ttl"),
    data: b.data === undefined || b.data === null ? undefined : JSON.stringify(b.data),
  });
  return [
    ep("InvokeActor", ["GET", "POST", "PUT", "DELETE"], "method/:method", async ({ params, request }) => {
      const headers: Record<string, string> = {};
      request.headers.forEach((v, k) => { if (!NOT_FORWARDED.has(k)) headers[k] = v; });
      const res = await actorsOf(ctx).invoke({
        actorType: params.actorType!, actorId: params.actorId!, method: params.method!, verb: request.method,
        headers, body: await readBody(request, max), query: queryOf(request.url) || undefined,
        reentrancyId: request.headers.get(REENTRANCY_HEADER) ?? undefined,
      }, request.signal);
      return new Response(res.body.byteLength ? res.body : null, { status: res.status, headers: res.headers });
    }, true),
    ep("GetActorState", ["GET"], "state/:key", async ({ params }) => {
      const value = await actorsOf(ctx).getState(params.actorType!, params.actorId!, params.key!);
      if (!value) return noContent();
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (value.metadata.ttlExpireTime) headers["metadata.ttlexpiretime"] = value.metadata.ttlExpireTime;
      return new Response(value.data, { status: 200, headers });
    }),
    ep("ExecuteActorStateTransaction", ["POST", "PUT"], "state", async ({ params, request }) => {
      const raw = await readJson(request, "actor state transaction", max, actorErrors.malformedRequest);
      if (!Array.isArray(raw)) throw actorErrors.malformedRequest(`the body must be a list of operations, got ${jsonType(raw)}`);
      await actorsOf(ctx).transaction(params.actorType!, params.actorId!, raw.map(stateOp));
      return noContent();
    }, true),
    ep("RegisterActorReminder", ["POST", "PUT"], "reminders/:name", async ({ params, request }) => {
      const b = await body(request, "actor reminder");
      if (b.overwrite !== undefined && typeof b.overwrite !== "boolean") throw actorErrors.malformedRequest(`"overwrite" must be a boolean`);
      await actorsOf(ctx).registerReminder({ actorType: params.actorType!, actorId: params.actorId!, name: params.name!, ...times(b), overwrite: b.overwrite as boolean | undefined });
      return noContent();
    }, true),
    ep("GetActorReminder", ["GET"], "reminders/:name", async ({ params }) => {
      const r = await actorsOf(ctx).getReminder(params.actorType!, params.actorId!, params.name!);
      return json({ actorID: r.actorId, actorType: r.actorType, data: r.data === undefined ? undefined : JSON.parse(r.data), dueTime: r.dueTime, period: r.period, ttl: r.ttl });
    }),
    ep("UnregisterActorReminder", ["DELETE"], "reminders/:name", async ({ params }) => {
      await actorsOf(ctx).unregisterReminder(params.actorType!, params.actorId!, params.name!);
      return noContent();
    }),
    ep("RegisterActorTimer", ["POST", "PUT"], "timers/:name", async ({ params, request }) => {
      const b = await body(request, "actor timer");
      await actorsOf(ctx).registerTimer({ actorType: params.actorType!, actorId: params.actorId!, name: params.name!, ...times(b), callback: optString(b, "callback") });
      return noContent();
    }, true),
    ep("UnregisterActorTimer", ["DELETE"], "timers/:name", async ({ params }) => {
      await actorsOf(ctx).unregisterTimer(params.actorType!, params.actorId!, params.name!);
      return noContent();
    }),
  ];
}

function optString(b: Record<string, unknown>, field: string): string | undefined {
  const v = b[field];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw actorErrors.malformedRequest(`"${field}" must be a string, got ${jsonType(v)}`);
  return v;
}

/** One `{"operation","request":{"key","value","etag","metadata"}}` of the HTTP transaction body. */
function stateOp(raw: unknown, i: number): ActorStateOp {
  const where = `operation ${i}`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw actorErrors.malformedRequest(`${where} must be an object`);
  const { operation, request } = raw as Record<string, unknown>;
  if (operation !== "upsert" && operation !== "delete") throw actorErrors.malformedRequest(`${where}: operation must be "upsert" or "delete", got ${JSON.stringify(operation)}`);
  if (request === null || typeof request !== "object" || Array.isArray(request)) throw actorErrors.malformedRequest(`${where}: "request" must be an object`);
  const r = request as Record<string, unknown>;
  if (typeof r.key !== "string") throw actorErrors.malformedRequest(`${where}: "key" must be a string`);
  if (r.etag !== undefined && r.etag !== null && typeof r.etag !== "string") throw actorErrors.malformedRequest(`${where}: "etag" must be a string`);
  return {
    operation, key: r.key,
    value: operation === "upsert" ? encoder.encode(JSON.stringify(r.value ?? null)) : undefined,
    etag: (r.etag as string | undefined) ?? undefined,
    metadata: stringMetadata(r.metadata, where, actorErrors.malformedRequest),
  };
}
