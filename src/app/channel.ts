// The app channel: how the sidecar calls its own app (HTTP or gRPC AppCallback), under --app-max-concurrency,
// with APP_API_TOKEN, and with the app's health tracked by probes when --enable-app-health-check is on.
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { AnySchema, anyUnpack, BytesValueSchema } from "@bufbuild/protobuf/wkt";
import { connect } from "node:net";
import { AppCallback, AppCallbackAlpha, AppCallbackHealthCheck } from "../gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { HTTPExtension_Verb } from "../gen/dapr/proto/common/v1/common_pb.js";
import type { Logger } from "../observability/logger.js";
import type { RuntimeConfig } from "../runtime/config.js";
import { Semaphore } from "./semaphore.js";
import type { ClientStreamEvents, StreamPeer } from "../transport/transport.js";
import { msLeft, type Deadline } from "./deadline.js";
import { GrpcProxyClient, type RawGrpcCall, type RawGrpcResult } from "./grpc-proxy.js";
import { Http1Pool } from "./http1-client.js";

/** The caller's signal, the deadline's, or one that fires at whichever comes first. */
function withDeadline(signal: AbortSignal | undefined, deadline: Deadline | undefined, what: string): AbortSignal | undefined {
  if (deadline === undefined) return signal;
  const timeout = AbortSignal.timeout(msLeft(deadline, what));
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

export interface AppRequest {
  method: string;
  /** Path on the app, without the leading slash, e.g. "orders/42". */
  path: string;
  /** Encoded query string without "?", may be empty. */
  query?: string;
  headers: Record<string, string>;
  body?: Uint8Array;
  signal?: AbortSignal;
  /** Gives up at this instant (performance.now() clock), the wait for an --app-max-concurrency slot included. */
  deadline?: Deadline;
  /** Invocation pass-through: keep a compressed answer compressed (its content-encoding goes back as is). */
  passthrough?: boolean;
}

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export class AppUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AppUnavailableError";
  }
}

type HealthListener = (healthy: boolean) => void;

/** Carries a protobuf Any's type URL next to its value when an invocation crosses HTTP-shaped hops. */
export const ANY_TYPE_HEADER = "rapr-any-type";

/** gRPC status → the HTTP status Dapr reports for it. */
export function httpStatusOfGrpc(code: Code): number {
  const map: Partial<Record<Code, number>> = {
    [Code.Canceled]: 499, [Code.InvalidArgument]: 400, [Code.DeadlineExceeded]: 504, [Code.NotFound]: 404,
    [Code.AlreadyExists]: 409, [Code.PermissionDenied]: 403, [Code.ResourceExhausted]: 429, [Code.FailedPrecondition]: 400,
    [Code.Aborted]: 409, [Code.OutOfRange]: 400, [Code.Unimplemented]: 501, [Code.Unavailable]: 503, [Code.Unauthenticated]: 401,
  };
  return map[code] ?? 500;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length", "te", "trailer"]);

/** A fetch() answer as status, end-to-end headers and body; several Set-Cookie are joined as repeated headers are. */
export async function answerOf(res: Response): Promise<AppResponse> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!HOP_BY_HOP.has(k)) headers[k] = v;
  });
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 1) headers["set-cookie"] = cookies.join(", ");
  return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
}

export class AppChannel {
  private readonly limit: Semaphore;
  private readonly baseUrl?: string;
  private readonly isGrpc: boolean;
  /** AppCallback for gRPC apps; undefined for HTTP apps or when no --app-port was given. */
  readonly callback?: Client<typeof AppCallback>;
  /** AppCallbackAlpha (job events) for gRPC apps. */
  readonly callbackAlpha?: Client<typeof AppCallbackAlpha>;
  private readonly healthClient?: Client<typeof AppCallbackHealthCheck>;
  private healthy = true;
  private failures = 0;
  private probeTimer?: ReturnType<typeof setInterval>;
  private readonly listeners: HealthListener[] = [];
  private proxyClient?: GrpcProxyClient;
  /** Set once waitForPort() saw the app's port open. */
  private portOpened = false;
  /** Keep-alive connections for invocations into a plain-HTTP app. */
  private readonly pool?: Http1Pool;

  constructor(private readonly config: RuntimeConfig, private readonly logger: Logger) {
    this.limit = new Semaphore(config.appMaxConcurrency);
    this.isGrpc = config.appProtocol === "grpc" || config.appProtocol === "grpcs";
    if (config.appPort === undefined) return;
    const scheme = config.appProtocol === "https" || config.appProtocol === "grpcs" ? "https" : "http";
    this.baseUrl = `${scheme}://${config.appChannelAddress}:${config.appPort}`;
    if (scheme === "http" && !this.isGrpc) this.pool = new Http1Pool(config.appChannelAddress, config.appPort);
    if (this.isGrpc) {
      const transport = createGrpcTransport({
        baseUrl: this.baseUrl,
        interceptors: config.appApiToken ? [(next) => (req) => (req.header.set("dapr-api-token", config.appApiToken!), next(req))] : [],
      });
      this.callback = createClient(AppCallback, transport);
      this.callbackAlpha = createClient(AppCallbackAlpha, transport);
      this.healthClient = createClient(AppCallbackHealthCheck, transport);
    }
  }

  get configured(): boolean {
    return this.baseUrl !== undefined;
  }

  get protocol(): "http" | "grpc" {
    return this.isGrpc ? "grpc" : "http";
  }

  isHealthy(): boolean {
    return this.healthy;
  }

  onHealthChange(fn: HealthListener): void {
    this.listeners.push(fn);
  }

  /** Runs fn under --app-max-concurrency; every call into the app goes through here. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.limit.run(fn);
  }

  /** A plain HTTP request to an HTTP app (subscriptions, event delivery, actor calls, invocation). */
  async http(req: AppRequest): Promise<AppResponse> {
    if (!this.baseUrl) throw new AppUnavailableError("no app port configured (--app-port)");
    if (this.isGrpc) throw new AppUnavailableError(`the app speaks ${this.config.appProtocol}, not HTTP`);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) headers.set(k, v);
    if (this.config.appApiToken) headers.set("dapr-api-token", this.config.appApiToken);
    const url = `${this.baseUrl}/${req.path}${req.query ? `?${req.query}` : ""}`;
    return this.run(async () => {
      let res: Response;
      try {
        res = await fetch(url, { method: req.method, headers, body: req.body && req.body.length ? (req.body as Uint8Array<ArrayBuffer>) : undefined, signal: withDeadline(req.signal, req.deadline, `${req.method} /${req.path}`), redirect: "manual", decompress: !req.passthrough } as RequestInit);
      } catch (err) {
        throw new AppUnavailableError(`app ${this.config.appId} at ${this.baseUrl} did not answer ${req.method} /${req.path}: ${(err as Error).message}`);
      }
      return answerOf(res);
    });
  }

  /** Service invocation into the app: HTTP apps get the request as is; gRPC apps get AppCallback.OnInvoke,
   * with the body as the raw value of the Any (type URL from header ANY_TYPE_HEADER when the caller sent one). */
  async invoke(req: AppRequest): Promise<AppResponse> {
    if (!this.isGrpc) return this.pool ? this.http1(req, this.pool) : this.http({ ...req, passthrough: true });
    if (!this.callback) throw new AppUnavailableError("no app port configured (--app-port)");
    const verb = HTTPExtension_Verb[req.method.toUpperCase() as keyof typeof HTTPExtension_Verb] ?? HTTPExtension_Verb.POST;
    const contentType = req.headers["content-type"] ?? "application/json";
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k.toLowerCase()) && k !== "content-type" && k !== ANY_TYPE_HEADER) headers.set(k, v);
    return this.run(async () => {
      let res;
      try {
        res = await this.callback!.onInvoke(
          {
            method: req.path,
            data: create(AnySchema, { typeUrl: req.headers[ANY_TYPE_HEADER] ?? "", value: req.body ?? new Uint8Array() }),
            contentType,
            httpExtension: { verb, querystring: req.query ?? "" },
          },
          { signal: req.signal, timeoutMs: req.deadline === undefined ? undefined : msLeft(req.deadline, `OnInvoke(${req.path})`), headers },
        );
      } catch (err) {
        const ce = ConnectError.from(err);
        if (ce.code === Code.Unavailable) throw new AppUnavailableError(`app ${this.config.appId} at ${this.baseUrl} did not answer OnInvoke(${req.path}): ${ce.rawMessage}`);
        const body = new TextEncoder().encode(JSON.stringify({ errorCode: "ERR_DIRECT_INVOKE", message: ce.rawMessage, grpcCode: ce.code }));
        return { status: httpStatusOfGrpc(ce.code), headers: { "content-type": "application/json", "grpc-status": String(ce.code) }, body };
      }
      const out: Record<string, string> = res.contentType ? { "content-type": res.contentType } : {};
      let body = res.data?.value ?? new Uint8Array();
      if (res.data?.typeUrl.endsWith("google.protobuf.BytesValue")) body = anyUnpack(res.data, BytesValueSchema)?.value ?? body;
      else if (res.data?.typeUrl) out[ANY_TYPE_HEADER] = res.data.typeUrl;
      return { status: 200, headers: out, body };
    });
  }

  /** Invocation into a plain-HTTP app over pooled keep-alive connections (cheaper than fetch on the hot path). */
  private async http1(req: AppRequest, pool: Http1Pool): Promise<AppResponse> {
    const headers: [string, string][] = [];
    for (const k in req.headers) if (!HOP_BY_HOP.has(k.toLowerCase())) headers.push([k, req.headers[k]!]);
    if (this.config.appApiToken) headers.push(["dapr-api-token", this.config.appApiToken]);
    const target = `/${req.path}${req.query ? `?${req.query}` : ""}`;
    return this.run(async () => {
      let res;
      try {
        res = await pool.request({ method: req.method, target, headers, body: req.body, signal: req.signal, deadline: req.deadline });
      } catch (err) {
        throw new AppUnavailableError(`app ${this.config.appId} at ${this.baseUrl} did not answer ${req.method} ${target}: ${(err as Error).message}`);
      }
      for (const k of HOP_BY_HOP) delete res.headers[k];
      return res;
    });
  }

  /** gRPC proxying: one raw call to the app's own gRPC services (gRPC apps only), under --app-max-concurrency. */
  async grpcProxy(call: RawGrpcCall): Promise<RawGrpcResult> {
    const client = this.grpcProxyClient();
    return this.run(async () => {
      try {
        return await client.call(call);
      } catch (err) {
        throw new AppUnavailableError(`app ${this.config.appId} at ${this.baseUrl} did not answer ${call.path}: ${(err as Error).message}`);
      }
    });
  }

  /** gRPC proxying, streamed both ways (gRPC apps only); holds one --app-max-concurrency slot until the call ends. */
  grpcStream(path: string, headers: Record<string, string>, events: ClientStreamEvents, cancel?: AbortSignal): Promise<StreamPeer> {
    return new Promise<StreamPeer>((opened, failed) => {
      const client = this.grpcProxyClient(); // a throw here rejects
      void this.run(
        () =>
          new Promise<void>((over) => {
            const ends = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => (over(), fn(...args));
            if (cancel?.aborted) {
              over(); // the caller left while this call waited for its slot: the app never hears of it
              return failed(new AppUnavailableError(`the caller cancelled ${path} before the app took it`));
            }
            try {
              const peer = client.open(path, headers, { ...events, end: ends(events.end), reset: ends(events.reset) });
              opened({ ...peer, reset: ends(peer.reset) });
            } catch (err) {
              over();
              failed(new AppUnavailableError(`app ${this.config.appId} at ${this.baseUrl} did not take ${path}: ${(err as Error).message}`));
            }
          }),
      );
    });
  }

  /** The HTTP/2 client for gRPC proxying; only a gRPC app with a port has one. */
  private grpcProxyClient(): GrpcProxyClient {
    if (!this.baseUrl) throw new AppUnavailableError("no app port configured (--app-port)");
    if (!this.isGrpc) throw new AppUnavailableError(`gRPC proxying needs --app-protocol grpc; the app speaks ${this.config.appProtocol}`);
    return (this.proxyClient ??= new GrpcProxyClient(this.baseUrl, this.config.appApiToken));
  }

  /** Resolves once the app's port accepts connections (Dapr waits for this before subscribing). */
  async waitForPort(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.config.appPort === undefined) return false;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !signal?.aborted) {
      if (await tcpOpen(this.config.appChannelAddress, this.config.appPort)) return (this.portOpened = true);
      await Bun.sleep(50);
    }
    return false;
  }

  /** The app channel is up: without --app-port there is none to wait for; with one, its port has opened once. */
  get channelUp(): boolean {
    return !this.configured || this.portOpened;
  }

  startHealthChecks(): void {
    if (!this.config.enableAppHealthCheck || !this.configured) return;
    this.probeTimer = setInterval(() => void this.probe(), this.config.appHealthProbeIntervalMs);
    this.probeTimer.unref?.();
  }

  stop(): void {
    clearInterval(this.probeTimer);
    this.proxyClient?.close();
    this.pool?.close();
  }

  private async probe(): Promise<void> {
    const c = this.config;
    const signal = AbortSignal.timeout(c.appHealthProbeTimeoutMs);
    let ok = false;
    try {
      if (this.healthClient) {
        await this.healthClient.healthCheck({}, { signal });
        ok = true;
      } else {
        const res = await fetch(`${this.baseUrl}${c.appHealthCheckPath}`, { signal });
        ok = res.status >= 200 && res.status < 300;
      }
    } catch {
      ok = false;
    }
    if (ok) {
      this.failures = 0;
      this.setHealthy(true);
    } else if (++this.failures >= c.appHealthThreshold) {
      this.setHealthy(false);
    }
  }

  private setHealthy(h: boolean) {
    if (h === this.healthy) return;
    this.healthy = h;
    this.logger.warn(h ? "app is healthy again" : "app is unhealthy", { app_id: this.config.appId });
    for (const fn of this.listeners) fn(h);
  }
}

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => (s.destroy(), resolve(false)));
  });
}
