// The gRPC API: dapr.proto.runtime.v1.Dapr and rapr.v1.* through Connect. One port speaks gRPC (HTTP/2), and
// gRPC-Web and Connect over HTTP/1.1 or HTTP/2, so native gRPC clients and browsers share it.
import { apiListen, boundPort, listenNodeServer } from "../listen-address.js";
import { ConnectError, Code, createConnectRouter, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ApiContext } from "../context.js";
import { corsHeaders, isPreflight } from "../cors.js";
import { apiServed } from "../api-access.js";
import { installGrpcFastPath, type FastPathRoutes } from "./h2-fast-path.js";
import { requireAuthority } from "./authority-guard.js";
import type { CallGuard, UnaryRoute } from "./unary-grpc.js";
import type { DescMethodUnary, DescService } from "@bufbuild/protobuf";
import { DaprError } from "../../errors.js";
import { grpcProxyFallback } from "./handlers/invoke.js";
import type { GrpcService } from "../../runtime/block.js";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

export interface GrpcServerHandle {
  port: number;
  stop(): Promise<void>;
}

/** The API's rules around every gRPC call, on either path: the API token, Dapr errors as gRPC statuses, metrics, logs. */
function callGuard(ctx: ApiContext, denied: ReadonlySet<string>): CallGuard {
  const token = ctx.config.apiToken;
  const apiLog = ctx.logger.child("api");
  return async (method, header, fn) => {
    const started = performance.now();
    let status = "OK";
    try {
      // Outside subscribers are not apps: their subscriber token (checked by the pub/sub block) is their credential.
      if (token && !method.startsWith("/rapr.v1.Subscribers/") && header.get("dapr-api-token") !== token) {
        throw new ConnectError("authorization error: invalid or missing dapr-api-token metadata", Code.Unauthenticated);
      }
      if (denied.size && denied.has(method)) throw new ConnectError(`access to ${method} is not allowed by the Configuration's spec.api`, Code.PermissionDenied);
      return await fn();
    } catch (err) {
      const mapped = toConnectError(err, ctx, method);
      status = Code[mapped.code];
      throw mapped;
    } finally {
      ctx.metrics.observeGrpc(method, status, performance.now() - started);
      if (ctx.config.enableApiLogging) apiLog.info("gRPC API called", { method, status });
    }
  };
}

function guardInterceptor(guard: CallGuard, ctx: ApiContext): Interceptor {
  return (next) => async (req) => {
    const method = `/${req.service.typeName}/${req.method.name}`;
    const res = await guard(method, req.header, () => next(req));
    return res.stream ? { ...res, message: statusOnFailure(res.message, ctx, method) } : res;
  };
}

/** A streaming answer that fails after it started reports Dapr's error as its status too (Connect would say "internal error"). */
async function* statusOnFailure<T>(messages: AsyncIterable<T>, ctx: ApiContext, method: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw toConnectError(err, ctx, method);
  }
}

// Connect percent-encodes the message into grpc-message; a lone UTF-16 surrogate (e.g. from a JSON parse error on
// "🔑") makes that throw, and the call then never answers. Messages go out well-formed.
function toConnectError(err: unknown, ctx: ApiContext, method: string): ConnectError {
  if (err instanceof DaprError) return new ConnectError(err.message.toWellFormed(), err.grpcCode, { "dapr-error-code": err.errorCode });
  if (err instanceof ConnectError) return err.rawMessage.isWellFormed() ? err : new ConnectError(err.rawMessage.toWellFormed(), err.code, err.metadata);
  ctx.logger.error("unhandled gRPC API error", { method, error: err });
  return new ConnectError((err instanceof Error ? err.message : String(err)).toWellFormed(), Code.Internal);
}

interface RegisteredService {
  desc: DescService;
  impl: Record<string, unknown>;
}

/** Every service the gRPC port serves (the blocks' shares of one service merged), and the methods spec.api denies. */
function registeredServices(ctx: ApiContext): { services: RegisteredService[]; denied: Set<string> } {
  const byName = new Map<string, RegisteredService>();
  const denied = new Set<string>();
  for (const s of ctx.manifests.flatMap((m): GrpcService[] => m.grpc?.(ctx) ?? [])) {
    const entry = byName.get(s.service.typeName) ?? { desc: s.service, impl: {} };
    byName.set(s.service.typeName, Object.assign(entry, { impl: { ...entry.impl, ...s.impl } }));
    for (const [method, { group, version }] of Object.entries(s.groups ?? {})) {
      if (!apiServed(ctx.apiAccess, "grpc", group, version)) denied.add(`/${s.service.typeName}/${method}`);
    }
  }
  return { services: [...byName.values()], denied };
}

function unaryRoutes(services: RegisteredService[]): Map<string, UnaryRoute> {
  const out = new Map<string, UnaryRoute>();
  for (const { desc, impl } of services) {
    for (const method of desc.methods) {
      const fn = impl[method.localName];
      if (method.methodKind !== "unary" || typeof fn !== "function") continue;
      out.set(`/${desc.typeName}/${method.name}`, { service: desc, method: method as DescMethodUnary, impl: fn.bind(impl) as UnaryRoute["impl"] });
    }
  }
  return out;
}

function connectOptions(ctx: ApiContext, services: RegisteredService[], guard: CallGuard) {
  return {
    routes: (router: ConnectRouter) => {
      for (const s of services) router.service(s.desc, s.impl as never);
    },
    interceptors: [guardInterceptor(guard, ctx)],
    fallback: grpcProxyFallback(ctx),
    readMaxBytes: ctx.config.maxRequestBodyBytes,
    grpc: true,
    grpcWeb: true,
    connect: true,
  };
}

export function buildConnectHandlers(ctx: ApiContext) {
  const { services, denied } = registeredServices(ctx);
  const guard = callGuard(ctx, denied);
  const options = connectOptions(ctx, services, guard);
  const router = createConnectRouter(options);
  options.routes(router);
  const fastPath: FastPathRoutes = { unary: unaryRoutes(services), universal: router.handlers, guard, readMaxBytes: ctx.config.maxRequestBodyBytes };
  return { nodeHandler: connectNodeAdapter(options), fastPath };
}

export async function startGrpcServer(ctx: ApiContext): Promise<GrpcServerHandle> {
  const { nodeHandler, fastPath } = buildConnectHandlers(ctx);
  const withCors = corsWrapper(ctx.config.allowedOrigins, requireAuthority(nodeHandler));
  const h2 = http2.createServer({}, withCors as any);
  installGrpcFastPath(h2, fastPath);
  if (!ctx.config.grpcHttp1) return listenHttp2Only(h2, ctx);
  const h1 = http.createServer(withCors as any);
  // One listening socket; each connection goes to the HTTP/2 or HTTP/1.1 server by its first bytes.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    // Node's own HTTP servers turn Nagle off; sockets handed over by hand must too, or small replies wait ~40 ms.
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.once("readable", () => {
      const head: Buffer | null = socket.read(H2_PREFACE.length) ?? socket.read();
      if (!head) {
        socket.destroy();
        return;
      }
      socket.unshift(head);
      const isH2 = head.length >= H2_PREFACE.length ? head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE) : H2_PREFACE.subarray(0, head.length).equals(head);
      (isH2 ? h2 : h1).emit("connection", socket);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    listenNodeServer(server, apiListen(ctx.config, "grpc"), resolve);
  });
  const port = boundPort(server.address());
  return {
    port,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

/** HTTP/2 only: Bun's server owns the socket natively (~2x the calls/s of sockets handed over from the sniffer). */
async function listenHttp2Only(h2: http2.Http2Server, ctx: ApiContext): Promise<GrpcServerHandle> {
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    h2.once("error", reject);
    listenNodeServer(h2, apiListen(ctx.config, "grpc"), resolve);
  });
  return {
    port: boundPort(h2.address()),
    async stop() {
      await new Promise<void>((resolve) => {
        h2.close(() => resolve());
        for (const s of sessions) s.destroy();
      });
    },
  };
}

type NodeHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

function corsWrapper(origins: string[], handler: NodeHandler): NodeHandler {
  const cors = corsHeaders(origins, "grpc");
  if (!cors) return handler;
  return (req, res) => {
    const origin = String(req.headers.origin ?? "");
    if (origin) {
      const preflight = isPreflight(req.method, origin, req.headers["access-control-request-method"]);
      const headers = cors(origin, null, preflight);
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      if (preflight && headers["access-control-allow-origin"]) {
        (res as http.ServerResponse).writeHead(204);
        res.end();
        return;
      }
    }
    handler(req, res);
  };
}
