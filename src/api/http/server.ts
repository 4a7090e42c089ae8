// The HTTP API (Dapr's /v1.0 surface) on Elysia.
import { apiListen } from "../listen-address.js";
import { Elysia } from "elysia";
import type { ApiContext } from "../context.js";
import { DaprError, errors } from "../../errors.js";
import { errorResponse, json } from "./respond.js";
import { outsideWebSocket } from "./routes/pubsub-outside.js";
import { corsHeaders, isPreflight } from "../cors.js";
import { apiServed } from "../api-access.js";
import type { HttpEndpoint } from "../../runtime/block.js";

/** Every block's HTTP endpoints that Configuration spec.api lets this sidecar serve, in the blocks index's order. */
export function servedHttpEndpoints(ctx: ApiContext): HttpEndpoint[] {
  return ctx.manifests
    .flatMap((m) => m.http?.(ctx) ?? [])
    .filter((e) => e.alwaysAllowed || apiServed(ctx.apiAccess, "http", e.group, e.version));
}

/** "/v1.0/state/:store/:key": where the router serves an endpoint. */
const pathOfEndpoint = (e: HttpEndpoint) => `/${e.version}${e.route}`;

export interface HttpServerHandle {
  port: number;
  stop(): Promise<void>;
}

/** What every request passes before any route: CORS preflight, the body-size limit, DAPR_API_TOKEN. */
function requestGuard(ctx: ApiContext, endpoints: HttpEndpoint[]): (request: Request, pathname: string) => Response | undefined {
  const unauthenticated = new Set(endpoints.filter((e) => e.public).map(pathOfEndpoint));
  const maxBytes = ctx.config.maxRequestBodyBytes;
  const token = ctx.config.apiToken;
  const preflight = ctx.config.allowedOrigins.length > 0;
  return (request, pathname) => {
    if (preflight && isPreflight(request.method, request.headers.get("origin"), request.headers.get("access-control-request-method"))) return new Response(null, { status: 204 });
    const length = Number(request.headers.get("content-length") ?? 0);
    if (length > maxBytes) {
      return errorResponse(errors.bodyTooLarge(`request body of ${length} bytes exceeds --dapr-http-max-request-size (${maxBytes} bytes)`));
    }
    if (token && request.headers.get("dapr-api-token") !== token && !unauthenticated.has(pathname)) {
      return errorResponse(errors.apiUnauthorized("authorization error: invalid or missing dapr-api-token header"));
    }
    return undefined;
  };
}

/** `request` is absent only for what Bun.serve's error handler catches outside every route. */
function apiError(ctx: ApiContext, error: unknown, request?: Request): Response {
  const known = error instanceof DaprError ? error : request && unreadableBody(error, request);
  if (!known) ctx.logger.error("unhandled HTTP API error", { path: request && pathOf(request.url), error });
  return errorResponse(known ?? error);
}

/**
 * A body that breaks off (malformed chunked encoding, a client gone mid-body) fails its read with an AbortError
 * once Bun has answered 400 and closed the connection: the caller's mistake, not an API failure.
 */
function unreadableBody(error: unknown, request: Request): DaprError | undefined {
  if (!(error instanceof DOMException && error.name === "AbortError" && request.signal.aborted)) return undefined;
  return errors.malformedRequest(`the request body could not be read: ${error.message}`);
}

/** The Elysia app with the endpoints' routes; requests reach it through startHttpServer's guard. */
export function buildHttpApp(ctx: ApiContext, endpoints: HttpEndpoint[]): Elysia {
  const app = new Elysia({ normalize: false })
    .onError(({ code, error, request }) => {
      if (code === "NOT_FOUND") {
        return json({ errorCode: "ERR_NOT_FOUND", message: `no API route for ${request.method} ${pathOf(request.url)}` }, 404);
      }
      return apiError(ctx, error, request);
    }) as unknown as Elysia;
  for (const e of endpoints) {
    const handler = e.handler;
    const hook = e.rawBody ? { parse: "none" as const } : undefined;
    const path = pathOfEndpoint(e);
    if (e.methods === "*") app.all(path, handler as never, hook);
    else for (const method of e.methods) app.route(method, path, handler as never, hook);
  }
  return app;
}

/** The endpoints' hot forms, tried in order before the router. */
function hotPath(endpoints: HttpEndpoint[]): NonNullable<HttpEndpoint["hot"]> {
  const hot = endpoints.flatMap((e) => (e.hot ? [e.hot] : []));
  return (request, pathname, url) => {
    for (const form of hot) {
      const response = form(request, pathname, url);
      if (response) return response;
    }
    return undefined;
  };
}

export function startHttpServer(ctx: ApiContext): HttpServerHandle {
  const endpoints = servedHttpEndpoints(ctx);
  const app = buildHttpApp(ctx, endpoints);
  const logCalls = ctx.config.enableApiLogging;
  const observed = logCalls || ctx.config.enableMetrics;
  const apiLog = ctx.logger.child("api");
  const outside = outsideWebSocket(ctx);
  const guard = requestGuard(ctx, endpoints);
  const hot = hotPath(endpoints);
  const cors = corsHeaders(ctx.config.allowedOrigins, "http");
  const answer = async (request: Request, pathname: string, url: string): Promise<Response> => {
    let response = guard(request, pathname);
    if (!response) {
      try {
        response = await (hot(request, pathname, url) ?? app.handle(request));
      } catch (err) {
        response = apiError(ctx, err, request);
      }
    }
    // Only browsers need CORS headers, and they always send Origin: other clients get only Vary (so a shared cache
    // never hands their answer to a page).
    if (cors) {
      if (request.headers.has("origin")) for (const [k, v] of Object.entries(cors(request.headers.get("origin"), request.headers.get("access-control-request-headers")))) response.headers.set(k, v);
      else response.headers.set("vary", "origin");
    }
    return response;
  };
  const server = Bun.serve({
    // { port, hostname } or { unix }: Bun's option types cannot take the union as one spread.
    ...(apiListen(ctx.config, "http") as { port: number }),
    websocket: outside.handler,
    // Bun answers a Content-Length over this with a bare 413 before the API sees the request; keep it out of the
    // way so onRequest answers with ERR_BODY_TOO_LARGE. Bodies without a length are limited by limitUnsizedBody.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    idleTimeout: 120,
    // Never Bun's development error page (it shows source lines) for something no route caught.
    development: false,
    error: (error) => apiError(ctx, error),
    fetch: async (sent, srv) => {
      const sentUrl = sent.url;
      const url = routableUrl(sentUrl);
      const upgraded = outside.tryUpgrade(sent, url, srv);
      if (upgraded === true) return undefined;
      if (upgraded) return upgraded;
      const request = url === sentUrl ? sent : new Request(url, sent);
      const pathname = pathOf(url);
      if (!observed) return answer(limitUnsizedBody(request, ctx.config.maxRequestBodyBytes), pathname, url);
      const started = performance.now();
      const response = await answer(limitUnsizedBody(request, ctx.config.maxRequestBodyBytes), pathname, url);
      const ms = performance.now() - started;
      const path = metricPath(pathname);
      ctx.metrics.observeHttp(request.method, path, response.status, ms);
      if (logCalls) apiLog.info("HTTP API called", { method: request.method, path, status: response.status, ms: Math.round(ms * 100) / 100 });
      return response;
    },
  });
  return {
    port: server.port ?? 0,
    async stop() {
      await server.stop(false);
    },
  };
}

/** A body without Content-Length (chunked) is counted as it streams in; past the limit, reading it fails with ERR_BODY_TOO_LARGE. */
function limitUnsizedBody(request: Request, maxBytes: number): Request {
  // Headers first: touching request.body makes Bun build a stream for every request.
  if (request.headers.has("content-length") || !request.headers.has("transfer-encoding") || !request.body) return request;
  let total = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      total += chunk.byteLength;
      if (total > maxBytes) controller.error(errors.bodyTooLarge(`request body exceeds --dapr-http-max-request-size (${maxBytes} bytes)`));
      else controller.enqueue(chunk);
    },
  });
  return new Request(request, { body: request.body.pipeThrough(counter) });
}

/**
 * request.url with a host of at least four characters: Bun gives a request with an empty Host header a URL of only
 * its path, and Elysia's router takes the path to start after "http://" plus four characters. Such URLs get the host
 * "localhost" (the Host header stays as sent).
 */
function routableUrl(url: string): string {
  const pathStart = url.startsWith("http://") ? url.indexOf("/", 7) : 0;
  if (pathStart >= 11) return url;
  const path = pathStart < 0 ? "" : url.slice(pathStart);
  return `http://localhost${path.startsWith("/") ? "" : "/"}${path}`;
}

/** The path of an absolute request URL, without parsing the whole URL. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  const fragment = url.indexOf("#", start);
  const end = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment);
  return url.slice(start, end < 0 ? undefined : end);
}

/** "/v1.0/state/store/key" → "/v1.0/state/store": enough to tell calls apart, too little to explode label counts. */
function metricPath(path: string): string {
  let end = 0; // the leading slash; the label keeps what stands before the fourth
  for (let slashes = 1; slashes < 4; slashes++) {
    end = path.indexOf("/", end + 1);
    if (end < 0) return path;
  }
  return path.slice(0, end);
}
