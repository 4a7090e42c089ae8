// HTTP: /v1.0/invoke/{appId}/method/{method...} with any verb, and any other path carrying a `dapr-app-id`
// header (or `Authorization: Basic` for user "dapr-app-id"), as daprd does. {appId} may also name an HTTPEndpoint
// or be an http(s) URL (/v1.0/invoke/https://example.com/method/...). The method goes on still percent-encoded:
// InvokeBlock.invoke normalises it once for every front.
import type { HttpEndpoint } from "../../../runtime/block.js";
import type { ApiContext } from "../../context.js";
import { ANY_TYPE_HEADER } from "../../../app/channel.js";
import { errors } from "../../../errors.js";
import { decodedSegment, errorResponse, queryOf } from "../respond.js";
import { invokeSlot } from "../../../blocks/invoke/invoke-block.js";
import { isUrlTarget } from "../../../blocks/invoke/http-endpoints.js";

const INVOKE_PREFIX = "/v1.0/invoke/";
const METHOD_MARKER = "/method/";
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export function invokeEndpoints(ctx: ApiContext): HttpEndpoint[] {
  return [{
    name: "InvokeService",
    methods: "*",
    route: "/invoke/:appId/method/*",
    version: "v1.0",
    group: "invoke",
    rawBody: true,
    // The usual forms are answered by the hot form before the router; the route takes what it leaves (an app id
    // with an encoded "/", say).
    hot: (request, pathname, url) => hotInvoke(ctx, request, pathname, url),
    handler: ({ request, params }) => {
      const url = new URL(request.url);
      const rest = url.pathname.slice(INVOKE_PREFIX.length);
      const marker = rest.indexOf(METHOD_MARKER);
      const method = marker >= 0 ? rest.slice(marker + METHOD_MARKER.length) : "";
      return invokeOverHttp(ctx, request, decodeURIComponent(params.appId), method, url.search.slice(1));
    },
  }];
}

/**
 * Invocation in its two common forms, /v1.0/invoke/{appId}/method/{method...} and any other path with a
 * `dapr-app-id` header (or Basic credentials for it), ahead of the Elysia router. Undefined: not an invocation,
 * or one for the Elysia route.
 */
function hotInvoke(ctx: ApiContext, request: Request, pathname: string, url: string): Promise<Response> | undefined {
  if (pathname.startsWith(INVOKE_PREFIX)) {
    const rest = pathname.slice(INVOKE_PREFIX.length);
    const marker = rest.indexOf(METHOD_MARKER);
    if (marker <= 0) return undefined;
    const appId = decodedSegment(rest.slice(0, marker));
    // A non-Dapr endpoint's URL is the one id that may hold a "/".
    if (appId === undefined || (appId.includes("/") && !isUrlTarget(appId))) return undefined;
    return invokeOverHttp(ctx, request, appId, rest.slice(marker + METHOD_MARKER.length), queryOf(url));
  }
  const appId = request.headers.get("dapr-app-id") ?? basicAuthAppId(request.headers.get("authorization"));
  if (!appId) return undefined;
  return invokeOverHttp(ctx, request, appId, pathname, queryOf(url));
}

/** Dapr's third form: `Authorization: Basic base64("dapr-app-id:<appId>")`. */
function basicAuthAppId(auth: string | null): string | undefined {
  if (!auth || !/^basic /i.test(auth)) return undefined;
  let decoded: string;
  try {
    decoded = atob(auth.slice(6).trim());
  } catch {
    return undefined;
  }
  return decoded.startsWith("dapr-app-id:") && decoded.length > 12 ? decoded.slice(12) : undefined;
}

async function invokeOverHttp(ctx: ApiContext, request: Request, appId: string, method: string, query: string): Promise<Response> {
  try {
    const invoke = ctx.blocks.get(invokeSlot);
    if (!invoke) throw errors.directInvoke("service invocation is not available in this sidecar");
    const body = new Uint8Array(await request.arrayBuffer());
    if (body.length > ctx.config.maxRequestBodyBytes) {
      throw errors.bodyTooLarge(`request body of ${body.length} bytes exceeds --dapr-http-max-request-size (${ctx.config.maxRequestBodyBytes} bytes)`);
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => (headers[k] = v));
    if (basicAuthAppId(headers.authorization ?? null)) delete headers.authorization; // routing credentials, not the app's
    const res = await invoke.invoke({ appId, method, verb: request.method, query, headers, body });
    const out: Record<string, string> = {};
    for (const k in res.headers) if (k !== ANY_TYPE_HEADER) out[k] = res.headers[k]!;
    return new Response(NULL_BODY.has(res.status) ? null : (res.body as Uint8Array<ArrayBuffer>), { status: res.status, headers: out });
  } catch (err) {
    return errorResponse(err);
  }
}
