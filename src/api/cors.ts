// CORS for both API servers (HTTP, and gRPC/Connect on the gRPC port): one policy from --allowed-origins, with the
// headers each protocol's browsers need.
import { cors as connectCors } from "@connectrpc/connect";

/** A browser's CORS preflight: OPTIONS with Origin and Access-Control-Request-Method. The sidecar answers only
 * these itself; any other OPTIONS is an ordinary request (an invocation forwards it to the app, as daprd does). */
export function isPreflight(method: string | undefined, origin: unknown, requestMethod: unknown): boolean {
  return method === "OPTIONS" && !!origin && !!requestMethod;
}

const PROFILES = {
  http: {
    methods: "GET, POST, PUT, DELETE, PATCH, OPTIONS",
    expose: "etag, metadata.ttlExpireTime, grpc-status, grpc-message",
    /** Echo what the browser asks for. */
    headers: undefined as string | undefined,
    /** Methods and headers on every answer, not only preflights. */
    preflightOnly: false,
  },
  grpc: {
    methods: connectCors.allowedMethods.join(", "),
    expose: connectCors.exposedHeaders.join(", "),
    headers: [...connectCors.allowedHeaders, "dapr-api-token", "dapr-app-id"].join(", "),
    preflightOnly: true,
  },
};

/**
 * The CORS headers for a request from `origin` ({} when the origin is not allowed), preflight ones included when
 * `preflight`; undefined when --allowed-origins is empty (no CORS at all).
 */
export function corsHeaders(origins: string[], api: keyof typeof PROFILES): ((origin: string | null, requestHeaders: string | null, preflight?: boolean) => Record<string, string>) | undefined {
  if (origins.length === 0) return undefined;
  const any = origins.includes("*");
  const p = PROFILES[api];
  return (origin, requestHeaders, preflight = false) => {
    if (origin === null || (!any && !origins.includes(origin))) return {};
    const out: Record<string, string> = { "access-control-allow-origin": any ? "*" : origin, "access-control-expose-headers": p.expose, vary: "origin" };
    if (preflight || !p.preflightOnly) {
      out["access-control-allow-methods"] = p.methods;
      out["access-control-allow-headers"] = p.headers ?? requestHeaders ?? "*";
      out["access-control-max-age"] = "7200";
    }
    return out;
  };
}
