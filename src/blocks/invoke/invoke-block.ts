// Service invocation: app A's sidecar finds app B's sidecar by name, sends the call over the sidecar
// transport under B's resiliency policy; B's sidecar checks access control against the caller's verified
// identity and hands the call to its app. A call to the own app id stays local. Knows no HTTP or gRPC types.
import { Slot } from "../../runtime/block.js";
import { ANY_TYPE_HEADER, answerOf, AppUnavailableError, type AppChannel } from "../../app/channel.js";
import type { RawGrpcCall, RawGrpcResult } from "../../app/grpc-proxy.js";
import { encodeGrpcMessage } from "../../api/grpc/grpc-message.js";
import type { NameResolver } from "../../components/contracts/nameresolution.js";
import { DaprError, errors } from "../../errors.js";
import type { Logger } from "../../observability/logger.js";
import { CircuitOpenError, PolicyTimeoutError, statusIsFailure, type Resiliency, type RetryPolicy, type RunOptions } from "../../resiliency/index.js";
import { sleepUnless } from "../../resiliency/sleep.js";
import { decide, type AccessControlSpec, type Caller } from "../../security/access-control.js";
import { InvalidOperationError, normalizeOperation, normalizeQuery, normalizeVerb } from "../../security/operation.js";
import { parseSpiffeId } from "../../security/spiffe.js";
import { PEER_IDENTITY_HEADER } from "../../transport/mtls/index.js";
import {
  IGNORED_STREAM,
  TransportError,
  type ClientStreamEvents,
  type ServerStreamPeer,
  type StreamEvents,
  type StreamPeer,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from "../../transport/transport.js";
import { nextTraceparent } from "./tracing.js";
import type { PeerHandler } from "./peer-link.js";
import { parseTarget, type InvokeTarget } from "./target.js";
import { endpointUrl, isUrlTarget, type HttpEndpoint } from "./http-endpoints.js";

export interface InvokeRequest {
  /** Target app id as the caller wrote it: "orders" or "orders.namespace". */
  appId: string;
  /** Method path on the target app as the caller wrote it (percent-encoded, leading slash or not); invoke()
   * normalises it (security/operation.ts) and that form is what access control matches and the app receives. */
  method: string;
  /** HTTP verb (GET, POST, …). */
  verb: string;
  /** Raw query string without "?". */
  query: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface InvokeResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Headers the sidecars add between themselves; never passed to apps. */
const H = {
  verb: "rapr-verb",
  query: "rapr-query",
  targetApp: "rapr-target-app",
  targetNs: "rapr-target-ns",
  callerApp: "rapr-caller-app",
  callerNs: "rapr-caller-ns",
  error: "rapr-error",
} as const;
const INTERNAL = new Set<string>([...Object.values(H), PEER_IDENTITY_HEADER]);
/** Request headers the app never sees from the caller as is (the dapr-caller-* and dapr-callee-* ones are the
 * sidecars' to set). */
const DROPPED = new Set(["dapr-api-token", "dapr-app-id", "dapr-caller-app-id", "dapr-caller-namespace", "dapr-callee-app-id", "host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"]);

export interface InvokeBlockDeps {
  appId: string;
  namespace: string;
  trustDomain: string;
  mtls: boolean;
  appChannel: AppChannel;
  resolver: NameResolver & { forget?(appId: string, namespace?: string): void };
  transport: Transport;
  resiliency: Resiliency;
  accessControl?: AccessControlSpec;
  logger: Logger;
  maxBodyBytes: number;
  /** HTTPEndpoint resources by name. */
  httpEndpoints?: Map<string, HttpEndpoint>;
}

/** Dapr's built-in retries for sidecar-to-sidecar calls (DaprBuiltInServiceRetries): 3 × 1 s on unreachable. */
const BUILT_IN_RETRIES = 3;
const BUILT_IN_BACKOFF_MS = 1000;

export class InvokeBlock {
  /** Parsed peer identities (callers and answering sidecars) by SPIFFE URI. */
  private readonly identities = new Map<string, Caller>();
  /** Request kinds other blocks serve over the sidecar transport (PeerLink.handle). */
  private readonly peerHandlers = new Map<string, PeerHandler>();
  private nextPick = 0;

  constructor(private readonly d: InvokeBlockDeps) {}

  get appId(): string {
    return this.d.appId;
  }

  /** Outbound: called by the API fronts. */
  async invoke(req: InvokeRequest): Promise<InvokeResponse> {
    if (!req.appId) throw errors.malformedRequest("invoke: the target app id is empty");
    if (req.body.length > this.d.maxBodyBytes) throw errors.bodyTooLarge(`invoke: body of ${req.body.length} bytes exceeds --dapr-http-max-request-size (${this.d.maxBodyBytes} bytes)`);
    req = { ...req, method: valid(normalizeOperation, req.method), verb: valid(normalizeVerb, req.verb), query: valid(normalizeQuery, req.query) };
    const endpoint = this.d.httpEndpoints?.get(req.appId) ?? (isUrlTarget(req.appId) ? { name: req.appId, baseUrl: req.appId, headers: [] } : undefined);
    if (endpoint) return this.external(endpoint, req);
    const target = parseTarget(req.appId, this.d.namespace, this.d.appId);
    const headers = cleanHeaders(req.headers);
    headers.traceparent = nextTraceparent(req.headers.traceparent);
    if (this.isOwn(target)) {
      headers["dapr-caller-app-id"] = this.d.appId;
      headers["dapr-callee-app-id"] = this.d.appId;
      return this.deliver({ ...req, headers });
    }
    return this.remote(target, req.method, req.verb, req.query, headers, req.body);
  }

  /** Outbound gRPC proxying: a raw gRPC call for the target app's own services. */
  async proxyGrpc(appId: string, call: RawGrpcCall): Promise<RawGrpcResult> {
    if (call.body.length > this.d.maxBodyBytes) throw errors.bodyTooLarge(`gRPC proxy: message of ${call.body.length} bytes exceeds --dapr-http-max-request-size (${this.d.maxBodyBytes} bytes)`);
    const target = parseTarget(appId, this.d.namespace, this.d.appId);
    const headers = cleanHeaders(call.headers);
    headers.traceparent = nextTraceparent(call.headers.traceparent);
    if (this.isOwn(target)) return this.deliverGrpc({ ...call, headers });
    const res = await this.remote(target, call.path, "POST", "", headers, call.body, "grpc-proxy");
    return splitTrailers(res);
  }

  /** Whether gRPC proxying can stream both ways (the data plane carries streams). */
  get streams(): boolean {
    return this.d.transport.openStream !== undefined;
  }

  /** Outbound gRPC proxying, streamed: the target app's head, messages and trailers go to `events` as they come;
   * a trailers-only answer (an error before any message) is an end without a head. The target's resiliency policy
   * (or the built-in retries) covers opening the stream, and the policy's timeout the whole call; once messages
   * flow a call cannot be replayed, so nothing retries it after that, as Dapr does for streamed invocations. */
  async proxyGrpcStream(appId: string, path: string, incoming: Record<string, string>, callerEvents: ClientStreamEvents, cancel?: AbortSignal): Promise<StreamPeer> {
    const target = parseTarget(appId, this.d.namespace, this.d.appId);
    const headers = cleanHeaders(incoming);
    headers.traceparent = nextTraceparent(incoming.traceparent);
    const d = this.d;
    const policy = d.resiliency.policyFor({ app: target.appId });
    const timeoutMs = policy?.timeoutMs;
    // A policy's timeout bounds the whole call, as it bounded a buffered one.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const events: ClientStreamEvents =
      timeoutMs === undefined
        ? callerEvents
        : {
            ...callerEvents,
            end: (trailers) => (clearTimeout(timer), callerEvents.end(trailers)),
            reset: (err) => (clearTimeout(timer), callerEvents.reset(err)),
          };
    // The clock starts before the stream opens: retries and a wait for the app count against the timeout too.
    let opened: StreamPeer | undefined;
    let expired = false;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        expired = true;
        opened?.reset("the call ran past its resiliency timeout");
        if (opened) callerEvents.reset(new TransportError(`no end within the resiliency timeout of ${timeoutMs} ms`, "timeout"));
      }, timeoutMs);
    }
    const bounded = async (opening: Promise<StreamPeer>): Promise<StreamPeer> => {
      if (timeoutMs === undefined) return opening;
      let peer: StreamPeer;
      try {
        peer = await opening;
      } catch (err) {
        clearTimeout(timer);
        throw err;
      }
      if (expired) {
        peer.reset("the call ran past its resiliency timeout");
        throw errors.directInvokeTimeout(`failed to invoke, id: ${appId}, err: no stream within the resiliency timeout of ${timeoutMs} ms`);
      }
      opened = peer;
      return { ...peer, reset: (reason) => (clearTimeout(timer), peer.reset(reason)) };
    };
    if (this.isOwn(target)) return bounded(this.deliverGrpcStream(path, headers, events, cancel));
    this.addRouting(target, "POST", "", headers);
    // Under a policy a caller's leaving must not count as the target failing (its circuit breaker would see it):
    // the attempt runs on and the front resets the stream. Without one, leaving stops the opening.
    const stopsOpening = () => !policy && cancel?.aborted;
    const cancelled = () => errors.directInvoke(`the caller cancelled the call to ${appId} while it opened`);
    const open = async (signal: AbortSignal | undefined): Promise<StreamPeer> => {
      if (stopsOpening()) throw cancelled();
      const address = await this.sidecarOf(target);
      let peer: StreamPeer;
      try {
        peer = await d.transport.openStream!(address, { kind: GRPC_STREAM, path, headers, body: EMPTY }, events);
      } catch (err) {
        d.resolver.forget?.(target.appId, target.namespace);
        throw err;
      }
      if (stopsOpening()) {
        peer.reset("the caller cancelled the call");
        throw cancelled();
      }
      if (signal?.aborted) {
        peer.reset("the caller gave up while the stream opened");
        throw new TransportError(`opening a stream to ${address} took too long`, "timeout");
      }
      if (d.mtls) {
        try {
          this.verifySidecar(target, peer.identity, address);
        } catch (err) {
          peer.reset("wrong sidecar");
          throw err;
        }
      }
      return peer;
    };
    try {
      return await bounded(this.retried(target, open, { permanent: (err) => err instanceof DaprError }, cancel));
    } catch (err) {
      throw this.outboundError(target, err);
    }
  }

  private deliverGrpcStream(path: string, headers: Record<string, string>, events: ClientStreamEvents, cancel?: AbortSignal): Promise<StreamPeer> {
    return this.toApp(path, (ch) => ch.grpcStream(path, headers, events, cancel));
  }

  /** Inbound: a streamed gRPC call from another sidecar. Refusals and an app that cannot be reached end the
   * stream with gRPC trailers (no head), so the calling sidecar answers its client with the right status. */
  serveStream(open: TransportRequest, peer: ServerStreamPeer): StreamEvents {
    const refuse = (err: unknown): StreamEvents => {
      const e = err instanceof DaprError ? err : errors.directInvoke(err instanceof Error ? err.message : String(err));
      peer.end({ "grpc-status": String(e.grpcCode), "grpc-message": encodeGrpcMessage(e.message) });
      return IGNORED_STREAM;
    };
    let headers: Record<string, string>;
    let path: string;
    try {
      if (open.kind !== GRPC_STREAM) throw errors.directInvoke(`unsupported sidecar stream kind "${open.kind}"`);
      const method = valid(normalizeOperation, open.path);
      headers = this.admit(open.headers, method, "");
      path = `/${method}`;
    } catch (err) {
      return refuse(err);
    }
    let app: StreamPeer | undefined;
    let early: Uint8Array[] | undefined = open.body.length ? [open.body] : [];
    let earlyBytes = open.body.length;
    let ended = false;
    let cancelled = false;
    // The caller is held back when too much waits for the app's stream to open (an --app-max-concurrency slot may
    // take a while), and whenever the app cannot take more.
    let holding = false;
    const hold = () => {
      if (!holding) (holding = true), peer.pause();
    };
    const release = () => {
      if (holding) (holding = false), peer.resume();
    };
    const fromApp: ClientStreamEvents = {
      head: (h) => peer.head(h.status, h.headers),
      data: (chunk) => {
        if (!peer.write(chunk)) app?.pause();
      },
      end: (trailers) => peer.end(trailers),
      reset: (err) => peer.end({ "grpc-status": "14", "grpc-message": encodeGrpcMessage(err.message) }),
      drain: release,
    };
    const left = new AbortController(); // the caller left before the app's stream opened
    this.deliverGrpcStream(path, headers, fromApp, left.signal).then(
      (p) => {
        if (cancelled) return p.reset("the caller cancelled the call");
        app = p;
        let full = false;
        for (const chunk of early!) full = !p.write(chunk) || full;
        early = undefined;
        if (ended) p.end();
        else if (!full) release();
      },
      (err) => {
        early = undefined;
        refuse(err);
      },
    );
    return {
      data: (chunk) => {
        if (app) {
          if (!app.write(chunk)) hold();
        } else if (early) {
          early.push(chunk);
          earlyBytes += chunk.length;
          if (earlyBytes > EARLY_BYTES) hold();
        } // none kept once refused
      },
      end: () => (app ? app.end() : (ended = true)),
      reset: () => {
        cancelled = true;
        early = undefined;
        if (app) app.reset("the caller cancelled the call");
        else left.abort();
      },
      drain: () => app?.resume(),
    };
  }

  private isOwn(target: InvokeTarget): boolean {
    return target.appId === this.d.appId && target.namespace === this.d.namespace;
  }

  /** `fn` under the target's resiliency policy, or else Dapr's built-in retries for an unreachable sidecar;
   * `stop` ends the built-in retries early (the caller left). */
  private retried<T>(target: InvokeTarget, fn: (signal: AbortSignal | undefined) => Promise<T>, opts: RunOptions<T>, stop?: AbortSignal): Promise<T> {
    const r = this.d.resiliency;
    if (r.policyFor({ app: target.appId })) return r.run({ app: target.appId }, fn, { ...opts, stop });
    const builtIn = r.builtInRetry("DaprBuiltInServiceRetries");
    return withBuiltInRetries(fn, builtIn?.maxRetries ?? BUILT_IN_RETRIES, builtIn?.durationMs ?? BUILT_IN_BACKOFF_MS, stop);
  }

  /** The address of a sidecar serving the target; several for one app id (scaled out) take turns. */
  private async sidecarOf(target: InvokeTarget): Promise<string> {
    const addresses = await this.d.resolver.resolve(target.appId, target.namespace);
    if (!addresses.length) throw new AppNotFound(target);
    return addresses.length === 1 ? addresses[0]! : addresses[this.nextPick++ % addresses.length]!;
  }

  /** Adds the sidecar-to-sidecar routing fields to a call's own (cleaned) headers. */
  private addRouting(target: InvokeTarget, verb: string, query: string, headers: Record<string, string>): void {
    const d = this.d;
    headers[H.verb] = verb.toUpperCase();
    headers[H.query] = query;
    headers[H.targetApp] = target.appId;
    headers[H.targetNs] = target.namespace;
    headers[H.callerApp] = d.appId;
    headers[H.callerNs] = d.namespace;
  }

  /** `headers` (already cleaned, owned by this call) also carries the sidecar-to-sidecar fields. */
  private async remote(target: InvokeTarget, method: string, verb: string, query: string, headers: Record<string, string>, body: Uint8Array, kind = "invoke"): Promise<InvokeResponse> {
    const d = this.d;
    this.addRouting(target, verb, query, headers);
    const treq: TransportRequest = { kind, path: method, headers, body };
    const attempt = async (signal: AbortSignal | undefined): Promise<TransportResponse> => {
      const address = await this.sidecarOf(target);
      let res: TransportResponse;
      try {
        res = await d.transport.request(address, treq, { signal });
      } catch (err) {
        d.resolver.forget?.(target.appId, target.namespace);
        throw err;
      }
      if (d.mtls) this.checkServerIdentity(target, res, address);
      return res;
    };
    let res: TransportResponse;
    try {
      res = await this.retried(target, attempt, {
        failedResult: (r, retry) => r.headers[H.error] === undefined && (kind === "grpc-proxy" ? grpcFailed(r, retry) : statusIsFailure(r.status, retry)),
        permanent: (err) => err instanceof DaprError,
      });
    } catch (err) {
      throw this.outboundError(target, err);
    }
    if (res.headers[H.error] !== undefined) throw remoteDaprError(res);
    return { status: res.status, headers: res.headers, body: res.body };
  }

  /** A call to a non-Dapr endpoint, under the resiliency policy for its name (targets.apps.<name>). */
  private async external(ep: HttpEndpoint, req: InvokeRequest): Promise<InvokeResponse> {
    const headers = cleanHeaders(req.headers);
    delete headers[ANY_TYPE_HEADER]; // the gRPC API's type URL, for Dapr apps only
    headers.traceparent = nextTraceparent(req.headers.traceparent);
    for (const [k, v] of ep.headers) headers[k.toLowerCase()] = v;
    const url = endpointUrl(ep.baseUrl, req.method, req.query);
    const verb = req.verb.toUpperCase();
    const body = verb === "GET" || verb === "HEAD" || req.body.length === 0 ? undefined : (req.body as Uint8Array<ArrayBuffer>);
    const call = async (signal: AbortSignal | undefined): Promise<InvokeResponse> => {
      const answer = await answerOf(await fetch(url, { method: verb, headers, body, signal, redirect: "manual", decompress: false, tls: ep.tls } as RequestInit));
      delete answer.headers[ANY_TYPE_HEADER];
      return answer;
    };
    try {
      return await this.d.resiliency.run({ app: ep.name }, call, { failedResult: (r, retry) => statusIsFailure(r.status, retry) });
    } catch (err) {
      throw errors.directInvoke(`failed to invoke, id: ${ep.name}, err: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** With mTLS the answering sidecar must hold a certificate for the target app: a stale or forged
   * name-resolution entry cannot redirect calls to another app's sidecar. */
  private checkServerIdentity(target: InvokeTarget, res: TransportResponse, address: string): void {
    const uri = res.headers[PEER_IDENTITY_HEADER];
    delete res.headers[PEER_IDENTITY_HEADER];
    this.verifySidecar(target, uri, address);
  }

  private verifySidecar(target: InvokeTarget, uri: string | undefined, address: string): void {
    const id = uri ? this.identity(uri) : undefined;
    if (id && id.appId === target.appId && id.namespace === target.namespace) return;
    this.d.resolver.forget?.(target.appId, target.namespace);
    throw errors.directInvoke(`the sidecar at ${address} is ${uri ?? "unidentified"}, not app ${target.appId} in namespace ${target.namespace}; refusing its answer`);
  }

  private outboundError(target: InvokeTarget, err: unknown): DaprError {
    const id = `${target.appId}${target.namespace !== this.d.namespace ? `.${target.namespace}` : ""}`;
    if (err instanceof DaprError) return err;
    if (err instanceof AppNotFound) return errors.directInvoke(`failed to invoke, id: ${id}, err: couldn't find service: ${id} (no sidecar for app id "${target.appId}" in namespace "${target.namespace}")`);
    if (err instanceof CircuitOpenError) return errors.directInvoke(`failed to invoke, id: ${id}, err: ${err.message}`);
    if (err instanceof PolicyTimeoutError) return errors.directInvoke(`failed to invoke, id: ${id}, err: ${err.message}`);
    if (err instanceof TransportError) return errors.directInvoke(`failed to invoke, id: ${id}, err: ${err.message}`);
    return errors.directInvoke(`failed to invoke, id: ${id}, err: ${err instanceof Error ? err.message : String(err)}`);
  }

  /** Serves another block's request kind over the sidecar transport. */
  handle(kind: string, handler: PeerHandler): void {
    if (kind === "invoke" || kind === "grpc-proxy") throw new Error(`sidecar request kind "${kind}" is invocation's own`);
    this.peerHandlers.set(kind, handler);
  }

  /** Inbound: a request from another sidecar (the transport handler). */
  async serve(treq: TransportRequest): Promise<TransportResponse> {
    try {
      const peerHandler = this.peerHandlers.get(treq.kind);
      if (peerHandler) return await peerHandler(treq, this.peerOf(treq.headers));
      if (treq.kind !== "invoke" && treq.kind !== "grpc-proxy") throw errors.directInvoke(`unsupported sidecar request kind "${treq.kind}"`);
      const verb = valid(normalizeVerb, treq.headers[H.verb] ?? "POST");
      const method = valid(normalizeOperation, treq.path);
      const headers = this.admit(treq.headers, method, treq.kind === "grpc-proxy" ? "" : verb);
      if (treq.kind === "grpc-proxy") return joinTrailers(await this.deliverGrpc({ path: `/${method}`, headers, body: treq.body }));
      return await this.deliver({ appId: this.d.appId, method, verb, query: valid(normalizeQuery, treq.headers[H.query] ?? ""), headers, body: treq.body });
    } catch (err) {
      const e = err instanceof DaprError ? err : errors.directInvoke(err instanceof Error ? err.message : String(err));
      return { status: e.httpStatus, headers: { "content-type": "application/json", [H.error]: e.errorCode }, body: new TextEncoder().encode(JSON.stringify(e)) };
    }
  }

  /** Checks an inbound call is for this sidecar's app and allowed by access control (`path` normalised, and what the
   * app receives); the app's headers. */
  private admit(h: Record<string, string>, path: string, verb: string): Record<string, string> {
    const targetApp = h[H.targetApp] ?? "";
    const targetNs = h[H.targetNs] ?? this.d.namespace;
    if (targetApp !== this.d.appId || targetNs !== this.d.namespace) {
      throw errors.directInvoke(`this sidecar serves ${this.d.appId} in namespace ${this.d.namespace}, not ${targetApp} in ${targetNs}`);
    }
    const caller = this.callerOf(h);
    const decision = decide(this.d.accessControl, caller, path, verb, this.d.appChannel.protocol === "http");
    if (!decision.allowed) {
      const shown = verb || (h[H.verb] ?? "POST");
      this.d.logger.warn("invocation denied by access control", { caller: caller?.appId, method: path, verb: shown, reason: decision.reason });
      throw errors.permissionDenied(`access control policy has denied access to id: ${caller ? `spiffe://${caller.trustDomain}/ns/${caller.namespace}/${caller.appId}` : "unknown caller"} operation: ${path} verb: ${shown}`);
    }
    const headers: Record<string, string> = {};
    for (const k in h) if (!INTERNAL.has(k)) headers[k] = h[k]!;
    // Without mTLS this is only what the calling sidecar claims, as in daprd; access control never trusts it.
    headers["dapr-caller-app-id"] = caller?.appId ?? h[H.callerApp] ?? "";
    headers["dapr-callee-app-id"] = this.d.appId;
    return headers;
  }

  /** The calling sidecar for another block's request kind: with mTLS, a verified identity of this namespace and trust
   * domain, else ERR_PERMISSION_DENIED; without mTLS, unknown (undefined). */
  private peerOf(h: Record<string, string>): Caller | undefined {
    if (!this.d.mtls) return undefined;
    const caller = this.callerOf(h);
    if (!caller || caller.namespace !== this.d.namespace || caller.trustDomain !== this.d.trustDomain) {
      throw errors.permissionDenied(`sidecar request denied: caller ${caller ? `spiffe://${caller.trustDomain}/ns/${caller.namespace}/${caller.appId}` : "unknown"} is not of namespace ${this.d.namespace} in trust domain ${this.d.trustDomain}`);
    }
    return caller;
  }

  /** Who is calling: the verified certificate identity with mTLS. Without it (--enable-mtls=false, DPDK) anyone who
   * reaches the port can claim any app id, so the caller is unknown and access control's defaultAction applies,
   * as in daprd. */
  private callerOf(h: Record<string, string>): Caller | undefined {
    if (!this.d.mtls) return undefined;
    const uri = h[PEER_IDENTITY_HEADER];
    return uri ? this.identity(uri) : undefined;
  }

  /** A peer's SPIFFE URI, parsed once. */
  private identity(uri: string): Caller | undefined {
    let id = this.identities.get(uri);
    if (!id) {
      const parsed = parseSpiffeId(uri);
      if (!parsed) return undefined;
      id = { appId: parsed.appId, namespace: parsed.namespace, trustDomain: parsed.trustDomain };
      if (this.identities.size < 10_000) this.identities.set(uri, id);
    }
    return id;
  }

  /** Hands a call to this sidecar's own app. */
  private deliver(req: InvokeRequest): Promise<InvokeResponse> {
    return this.toApp(`${req.verb} /${req.method}`, (ch) => ch.invoke({ method: req.verb, path: req.method, query: req.query, headers: req.headers, body: req.body }));
  }

  /** `send` to this sidecar's own app once its channel can take the call (`what`, for the errors). */
  private async toApp<T>(what: string, send: (ch: AppChannel) => Promise<T>): Promise<T> {
    const ch = this.d.appChannel;
    if (!ch.configured) throw errors.directInvoke(`app channel is not initialized: app ${this.d.appId} has no --app-port, so it cannot receive invocations`);
    if (!ch.isHealthy()) throw errors.directInvoke(`app ${this.d.appId} is unhealthy (app health checks are failing); not delivering ${what}`);
    try {
      return await send(ch);
    } catch (err) {
      throw err instanceof AppUnavailableError ? errors.directInvoke(err.message) : err;
    }
  }

  private deliverGrpc(call: RawGrpcCall): Promise<RawGrpcResult> {
    return this.toApp(call.path, (ch) => ch.grpcProxy(call));
  }
}

const TRAILER_PREFIX = "rapr-trailer-";

function joinTrailers(r: RawGrpcResult): TransportResponse {
  const headers = { ...r.headers };
  for (const [k, v] of Object.entries(r.trailers)) headers[TRAILER_PREFIX + k] = v;
  return { status: 200, headers, body: r.body };
}

function splitTrailers(r: InvokeResponse): RawGrpcResult {
  const headers: Record<string, string> = {};
  const trailers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (k.startsWith(TRAILER_PREFIX)) trailers[k.slice(TRAILER_PREFIX.length)] = v;
    else headers[k] = v;
  }
  return { headers, trailers, body: r.body };
}

/** A proxied gRPC answer fails for resiliency when its grpc-status is in the policy's codes (default: UNAVAILABLE). */
function grpcFailed(r: TransportResponse, retry: RetryPolicy | undefined): boolean {
  const status = Number(r.headers[TRAILER_PREFIX + "grpc-status"] ?? r.headers["grpc-status"] ?? 0);
  return retry?.grpcStatusCodes ? retry.grpcStatusCodes(status) : status === 14;
}

const GRPC_STREAM = "grpc-stream";
/** What a stream may send before the app's side is open, before the caller is asked to pause. */
const EARLY_BYTES = 256 * 1024;
const EMPTY = new Uint8Array(0);

class AppNotFound extends Error {
  constructor(readonly target: InvokeTarget) {
    super(`no sidecar for ${target.appId} in namespace ${target.namespace}`);
  }
}

/** A call's method, verb or query in the one form (security/operation.ts) that access control matches and the app
 * receives; what cannot take that form is the caller's mistake. */
function valid(normalize: (s: string) => string, s: string): string {
  try {
    return normalize(s);
  } catch (err) {
    if (err instanceof InvalidOperationError) throw errors.malformedRequest(`invoke: ${err.message}`);
    throw err;
  }
}

function cleanHeaders(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const key = k.toLowerCase();
    if (!DROPPED.has(key) && !INTERNAL.has(key)) out[key] = h[k]!;
  }
  return out;
}

function remoteDaprError(res: TransportResponse): DaprError {
  let message = new TextDecoder().decode(res.body);
  let code = res.headers[H.error] || "ERR_DIRECT_INVOKE";
  try {
    const parsed = JSON.parse(message) as { errorCode?: string; message?: string };
    message = parsed.message ?? message;
    code = parsed.errorCode ?? code;
  } catch {
    // plain text
  }
  const grpc = code === "ERR_PERMISSION_DENIED" ? errors.permissionDenied("").grpcCode : res.status === 400 ? errors.malformedRequest("").grpcCode : errors.directInvoke("").grpcCode;
  return new DaprError(code, message, res.status, grpc);
}

/** Retries only sidecar-unreachable errors; a Resiliency policy named DaprBuiltInServiceRetries may widen them
 * (Dapr does not let it go below the defaults). `stop`: no more attempts once it fires (the caller left). */
async function withBuiltInRetries<T>(fn: (signal: AbortSignal | undefined) => Promise<T>, maxRetries: number, backoffMs: number, stop?: AbortSignal): Promise<T> {
  const limit = maxRetries === -1 ? Infinity : Math.max(BUILT_IN_RETRIES, maxRetries);
  const wait = Math.max(BUILT_IN_BACKOFF_MS, backoffMs);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(undefined);
    } catch (err) {
      const retriable = err instanceof TransportError && err.code === "unreachable";
      if (!retriable || attempt >= limit || stop?.aborted) throw err;
      await sleepUnless(wait, stop);
    }
  }
}

/** The running invoke block, for the API fronts. */
export const invokeSlot = new Slot<InvokeBlock>("invoke");
