// gRPC: Dapr.InvokeService. An HTTP callee's non-2xx status becomes a gRPC error, as in Dapr.
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import { HTTPExtension_Verb } from "../../../gen/dapr/proto/common/v1/common_pb.js";
import { ANY_TYPE_HEADER } from "../../../app/channel.js";
import { DaprError, errors } from "../../../errors.js";
import type { ApiContext } from "../../context.js";
import { encodeGrpcMessage } from "../grpc-message.js";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Stream } from "node:http2";
import { invokeSlot, type InvokeBlock } from "../../../blocks/invoke/invoke-block.js";
import type { ClientStreamEvents, StreamPeer } from "../../../transport/transport.js";

const FORWARDED = /^(traceparent|tracestate|grpc-trace-bin|x-.*)$/;
/** Response headers that must not become gRPC metadata (HTTP framing, gRPC's own, internal). */
const RESPONSE_SKIPPED = /^(content-type|content-length|content-encoding|transfer-encoding|connection|keep-alive|date|grpc-.*|rapr-.*|:.*)$/;

export function invokeHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async invokeService(req, call) {
      const invoke = ctx.blocks.get(invokeSlot);
      if (!invoke) throw errors.directInvoke("service invocation is not available in this sidecar");
      const m = req.message;
      if (!m) throw errors.malformedRequest("InvokeService: message is required");
      const verb = m.httpExtension && m.httpExtension.verb !== HTTPExtension_Verb.NONE ? HTTPExtension_Verb[m.httpExtension.verb] : "POST";
      const headers: Record<string, string> = {};
      call.requestHeader.forEach((v, k) => {
        if (FORWARDED.test(k)) headers[k] = v;
      });
      if (m.contentType) headers["content-type"] = m.contentType;
      if (m.data?.typeUrl) headers[ANY_TYPE_HEADER] = m.data.typeUrl;
      const res = await invoke.invoke({
        appId: req.id,
        method: m.method,
        verb,
        query: m.httpExtension?.querystring ?? "",
        headers,
        body: m.data?.value ?? new Uint8Array(),
      });
      if (res.status < 200 || res.status >= 300) {
        const text = new TextDecoder().decode(res.body);
        const grpc = Number(res.headers["grpc-status"]);
        throw new ConnectError(text || `status ${res.status}`, Number.isInteger(grpc) && grpc > 0 ? grpc : codeOfHttp(res.status), { "dapr-http-status": String(res.status) });
      }
      call.responseHeader.set("dapr-http-status", String(res.status));
      // The callee's HTTP headers travel as response metadata, as in Dapr.
      for (const [k, v] of Object.entries(res.headers)) {
        if (!RESPONSE_SKIPPED.test(k) && /^[a-z0-9._-]+$/.test(k) && !/[\r\n]/.test(v)) call.responseHeader.set(k, v);
      }
      return {
        contentType: res.headers["content-type"] ?? "",
        data: create(AnySchema, { typeUrl: res.headers[ANY_TYPE_HEADER] ?? "", value: res.body }),
      };
    },
  };
}

function codeOfHttp(status: number): Code {
  switch (status) {
    case 400: return Code.InvalidArgument;
    case 401: return Code.Unauthenticated;
    case 403: return Code.PermissionDenied;
    case 404: return Code.NotFound;
    case 409: return Code.Aborted;
    case 413: case 429: return Code.ResourceExhausted;
    case 501: return Code.Unimplemented;
    case 503: return Code.Unavailable;
    case 504: return Code.DeadlineExceeded;
    default: return status >= 500 ? Code.Internal : Code.Unknown;
  }
}

type NodeReq = IncomingMessage | Http2ServerRequest;
type NodeRes = ServerResponse | Http2ServerResponse;

const PROXY_DROPPED = /^(:.*|connection|keep-alive|transfer-encoding|upgrade|host|content-length|te|trailer|dapr-app-id|dapr-api-token)$/;
const NGHTTP2_INTERNAL_ERROR = 2;
/** Sidecar-to-sidecar headers (the answering sidecar's identity, say): never the caller's business. */
const INTERNAL_HEADER = /^rapr-/;

/** gRPC proxying: a call for a service the sidecar does not serve, carrying `dapr-app-id` metadata, goes to that
 * app's own gRPC server through both sidecars; without the metadata it is UNIMPLEMENTED. */
export function grpcProxyFallback(ctx: ApiContext): NonNullable<ConnectNodeAdapterOptions["fallback"]> {
  return (request, response): void => {
    const req = request as NodeReq;
    const res = response as unknown as NodeRes;
    void proxy(ctx, req, res).catch((err) => {
      ctx.logger.warn("gRPC proxy failed", { path: req.url, error: err });
      if (!res.headersSent) grpcError(res, Code.Internal, err instanceof Error ? err.message : String(err));
      else res.end();
    });
  };
}

async function proxy(ctx: ApiContext, req: NodeReq, res: NodeRes): Promise<void> {
  const appId = header(req, "dapr-app-id");
  if (!appId) return grpcError(res, Code.Unimplemented, `unknown service or method ${req.url}; to reach an app's own gRPC service, send dapr-app-id metadata`);
  const token = ctx.config.apiToken;
  if (token && header(req, "dapr-api-token") !== token) return grpcError(res, Code.Unauthenticated, "authorization error: invalid or missing dapr-api-token metadata");
  const invoke = ctx.blocks.get(invokeSlot);
  if (!invoke) return grpcError(res, Code.Internal, "service invocation is not available in this sidecar");
  if (invoke.streams) return streamedProxy(invoke, appId, req, res);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > ctx.config.maxRequestBodyBytes) return grpcError(res, Code.ResourceExhausted, `gRPC proxy: request exceeds --dapr-http-max-request-size (${ctx.config.maxRequestBodyBytes} bytes)`);
    chunks.push(c);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !PROXY_DROPPED.test(k)) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
  let out;
  try {
    out = await invoke.proxyGrpc(appId, { path: req.url ?? "/", headers, body: new Uint8Array(Buffer.concat(chunks)) });
  } catch (err) {
    if (err instanceof DaprError) return grpcError(res, err.grpcCode, err.message);
    throw err;
  }
  const resHeaders: Record<string, string> = { ":status": "200", ...visible(out.headers) };
  const stream = h2stream(res);
  if (!stream) return grpcError(res, Code.Internal, "gRPC proxying needs HTTP/2");
  const hasTrailers = Object.keys(out.trailers).length > 0;
  if (!hasTrailers && !out.body.length) return void stream.respond(resHeaders, { endStream: true }); // trailers-only
  // Bun's ServerHttp2Stream does not emit wantTrailers; the compatibility API's addTrailers does work.
  const r = res as Http2ServerResponse;
  delete resHeaders[":status"];
  r.writeHead(200, resHeaders);
  r.write(Buffer.from(out.body.buffer, out.body.byteOffset, out.body.byteLength));
  r.addTrailers(hasTrailers ? out.trailers : { "grpc-status": "0" });
  r.end();
}

/** The call streamed both ways through the sidecars: each message goes on as it arrives, so bidirectional calls
 * that interleave work; flow control holds a side back while the other cannot take more. */
async function streamedProxy(invoke: InvokeBlock, appId: string, req: NodeReq, res: NodeRes): Promise<void> {
  const stream = h2stream(res);
  if (!stream) return grpcError(res, Code.Internal, "gRPC proxying needs HTTP/2");
  const r = res as Http2ServerResponse;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !PROXY_DROPPED.test(k)) headers[k] = Array.isArray(v) ? v.join(", ") : String(v);
  let peer: StreamPeer | undefined;
  let headSent = false;
  let over = false;
  let sentAll = false;
  let held = false;
  const gone = () => stream.destroyed || stream.closed;
  const sendHead = (from: Record<string, string>) => {
    if (headSent) return;
    const out = visible(from);
    out["content-type"] ??= "application/grpc";
    r.writeHead(200, out);
    headSent = true;
  };
  const finish = (trailers: Record<string, string>) => {
    if (over) return;
    over = true;
    // The call is over once the status is out; messages the caller still sends are not wanted any more.
    if (!sentAll) peer?.reset("the call is over");
    if (gone()) return;
    const t = visible(trailers);
    t["grpc-status"] ??= "0";
    try {
      if (!headSent) return void stream.respond({ ":status": 200, "content-type": "application/grpc", ...t }, { endStream: true }); // trailers-only
      r.addTrailers(t);
      r.end();
    } catch {
      stream.close(NGHTTP2_INTERNAL_ERROR); // the caller sees the call fail rather than wait for it forever
    }
  };
  const events: ClientStreamEvents = {
    head: (h) => !over && !gone() && sendHead(h.headers),
    data: (chunk) => {
      if (over || gone()) return;
      sendHead({});
      if (!r.write(chunk) && !held) {
        held = true;
        peer?.pause();
        r.once("drain", () => {
          held = false;
          peer?.resume();
        });
      }
    },
    end: finish,
    reset: (err) => {
      const code = err.code === "timeout" ? Code.DeadlineExceeded : Code.Unavailable;
      finish({ "grpc-status": String(code), "grpc-message": encodeGrpcMessage(`gRPC proxy: ${err.message}`) });
    },
    drain: () => req.resume(),
  };
  // The caller may give up while the stream is still opening (a busy app, retries): the opening stops, and a
  // stream that opened anyway is reset.
  const opening = new AbortController();
  res.on("close", () => {
    if (over) return;
    over = true;
    if (peer) peer.reset("the caller cancelled the call");
    else opening.abort();
  });
  try {
    peer = await invoke.proxyGrpcStream(appId, req.url ?? "/", headers, events, opening.signal);
  } catch (err) {
    if (over || gone()) return;
    over = true;
    if (err instanceof DaprError) return grpcError(res, err.grpcCode, err.message);
    throw err;
  }
  const opened = peer;
  if (over) return opened.reset("the call is over"); // cancelled, or answered in full, while it opened
  req.on("data", (chunk: Buffer) => {
    if (!opened.write(chunk)) req.pause();
  });
  req.on("end", () => {
    sentAll = true;
    opened.end();
  });
}

/** The app's metadata as the caller may see it: no HTTP framing, no sidecar-to-sidecar headers. */
function visible(from: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) if (!PROXY_DROPPED.test(k) && !INTERNAL_HEADER.test(k)) out[k] = v;
  return out;
}

function h2stream(res: NodeRes): ServerHttp2Stream | undefined {
  return (res as Http2ServerResponse).stream;
}

function header(req: NodeReq, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function grpcError(res: NodeRes, code: Code, message: string): void {
  const headers = { "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": encodeGrpcMessage(message) };
  const stream = h2stream(res);
  if (stream) return void stream.respond({ ":status": 200, ...headers }, { endStream: true });
  (res as ServerResponse).writeHead(200, headers);
  res.end();
}
