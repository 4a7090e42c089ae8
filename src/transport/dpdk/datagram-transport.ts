// A Transport over any batched datagram I/O (DPDK port, in-memory link): request/response correlation,
// the poll loop, timeouts. Reliability lives in ReliableEndpoint.
import {
  TransportError,
  type RequestOptions,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from "../transport";
import { decodeMessage, encodeRequest, encodeResponse, MessageType, parseAddress, type EncodedMessage } from "../wire";
import {
  DEFAULT_ENDPOINT_OPTIONS,
  ReliableEndpoint,
  peerKey,
  type EndpointOptions,
  type EndpointStats,
  type PeerKey,
} from "./endpoint";
import type { PacketIO } from "./packet-io";

export interface DatagramTransportOptions {
  name: string;
  scheme: string;
  io: PacketIO;
  localIp: string;
  localPort: number;
  endpoint?: Partial<EndpointOptions>;
  /** Keep busy-polling this long after the last packet before sleeping between polls. */
  spinMs?: number;
  idleSleepMs?: number;
  /** For this long (µs) after the last packet, an empty poll yields the CPU (sched_yield). Default 1000. */
  idleYieldUs?: number;
  /** Then empty polls nap up to this long (µs). Both 0 = pure busy-polling (dedicated cores). Default 50. */
  maxNapUs?: number;
  onClose?: () => void;
}

interface Target {
  ip: number;
  port: number;
  key: PeerKey;
  /** Requests waiting for this peer's answer. */
  waiting: number;
}

interface Pending {
  key: PeerKey;
  resolve(res: TransportResponse): void;
  reject(err: Error): void;
}

/** Messages queued within one tick before they are sent without waiting for the end of the tick. */
const FLUSH_EVERY = 8;
/** How often the poll loop asks the port whether its point-to-point peer went away. */
const LINK_CHECK_MS = 20;

export function parseIPv4(text: string): number {
  const parts = text.split(".");
  const bytes = parts.map(Number);
  if (parts.length !== 4 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) {
    throw new TransportError(`"${text}" is not an IPv4 address`, "unreachable");
  }
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export class DatagramTransport implements Transport {
  readonly name: string;
  private readonly endpoint: ReliableEndpoint;
  private readonly endpointOptions: EndpointOptions;
  private readonly pending = new Map<number, Pending>();
  private readonly addresses = new Map<string, Target>();
  private readonly targets = new Map<PeerKey, Target>();
  private handler?: TransportHandler;
  private nextRequestId = (Math.random() * 0x7fffffff) >>> 0;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private immediate: ReturnType<typeof setImmediate> | undefined;
  private flushQueued = false;
  private queuedSinceFlush = 0;
  private lastWorkAt = 0;
  private nextTimersAt = 0;
  private nextLinkCheckAt = 0;
  /** Why the port's peer is gone: requests fail at once (unreachable) until it is back. */
  private linkLost: string | undefined;
  private closed = false;
  private failure: Error | undefined;
  private readonly spinMs: number;
  private readonly idleSleepMs: number;
  private readonly maxNapUs: number;
  private readonly idleYieldUs: number;

  constructor(private readonly opts: DatagramTransportOptions) {
    this.name = opts.name;
    this.spinMs = opts.spinMs ?? 20;
    this.idleSleepMs = opts.idleSleepMs ?? 1;
    this.maxNapUs = opts.maxNapUs ?? 50;
    this.idleYieldUs = opts.idleYieldUs ?? 1000;
    this.endpointOptions = { ...DEFAULT_ENDPOINT_OPTIONS, ...opts.endpoint };
    this.endpoint = new ReliableEndpoint(
      opts.io,
      {
        onMessage: (peer, generation, bytes, start, end, reused) =>
          this.onMessage(peer, generation, bytes, start, end, reused),
        onPeerReset: (peer, reason) => this.onPeerReset(peer, reason),
        waitingFor: (peer) => this.targets.get(peer)?.waiting ?? 0,
      },
      this.endpointOptions,
    );
    this.lastWorkAt = performance.now();
    this.schedule(this.lastWorkAt);
  }

  get endpointStats(): EndpointStats {
    return this.endpoint.stats;
  }

  async listen(handler: TransportHandler): Promise<string> {
    this.assertOpen();
    this.handler = handler;
    this.kick();
    return `${this.opts.scheme}://${this.opts.localIp}:${this.opts.localPort}`;
  }

  request(address: string, req: TransportRequest, options: RequestOptions = {}): Promise<TransportResponse> {
    try {
      this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    let t: Target;
    let encoded: EncodedMessage;
    const id = (this.nextRequestId = (this.nextRequestId + 1) >>> 0);
    try {
      t = this.target(address);
      encoded = encodeRequest(id, req);
    } catch (err) {
      return Promise.reject(err);
    }
    if (encoded.length > this.endpointOptions.maxMessageBytes) {
      return Promise.reject(
        new TransportError(`request of ${encoded.length} bytes exceeds ${this.endpointOptions.maxMessageBytes}`, "too-large"),
      );
    }
    if (this.linkLost) return Promise.reject(new TransportError(`${this.linkLost}; cannot reach ${address}`, "unreachable"));
    const { ip, port, key } = t;
    return new Promise<TransportResponse>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => finish(new TransportError(`request to ${address} aborted`, "timeout"));
      const finish = (outcome: TransportResponse | Error) => {
        if (!this.pending.delete(id)) return;
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        t.waiting--;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      this.pending.set(id, { key, resolve: finish, reject: finish });
      t.waiting++;
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(
          () => finish(new TransportError(`no answer from ${address} within ${options.timeoutMs} ms`, "timeout")),
          options.timeoutMs,
        );
      }
      if (options.signal) {
        if (options.signal.aborted) return onAbort();
        options.signal.addEventListener("abort", onAbort, { once: true });
      }
      this.endpoint.send(ip, port, encoded, performance.now());
      this.kick();
    });
  }

  private target(address: string): Target {
    let target = this.addresses.get(address);
    if (target) return target;
    const { host, port } = parseAddress(address);
    const ip = parseIPv4(host);
    const key = peerKey(ip, port);
    target = this.targets.get(key) ?? { ip, port, key, waiting: 0 };
    this.targets.set(key, target);
    if (this.addresses.size < 4096) this.addresses.set(address, target);
    return target;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      this.endpoint.transmit(performance.now()); // last acks and responses
      this.endpoint.sayGoodbye();
    } catch {
      // the port may already be gone
    }
    this.closed = true;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    if (this.immediate) clearImmediate(this.immediate);
    this.failAll(new TransportError(`${this.name} transport closed`, "closed"));
    this.opts.onClose?.();
  }

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new TransportError(`${this.name} transport closed`, "closed");
  }

  private onMessage(peer: PeerKey, generation: number, bytes: Uint8Array, start: number, end: number, reused: boolean): void {
    let msg;
    try {
      msg = decodeMessage(bytes, start, end, reused);
    } catch {
      return; // a malformed message from a peer is dropped, never fatal
    }
    if (msg.type === MessageType.Response) {
      const p = this.pending.get(msg.id);
      if (p && p.key === peer) p.resolve(msg.response);
      return;
    }
    if (msg.type !== MessageType.Request) return; // no streams on this data plane
    const handler = this.handler;
    const ip = Math.floor(peer / 65536);
    const port = peer % 65536;
    const reply = (res: TransportResponse) => {
      if (this.closed || this.endpoint.generation(peer) !== generation) return; // that session is gone
      this.endpoint.send(ip, port, encodeResponse(msg.id, res), performance.now());
      this.kick();
    };
    if (!handler) {
      reply({ status: 503, headers: {}, body: new TextEncoder().encode("no handler is listening") });
      return;
    }
    let result: Promise<TransportResponse>;
    try {
      result = handler(msg.request);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(reply, (err: unknown) =>
      reply({ status: 500, headers: {}, body: new TextEncoder().encode(err instanceof Error ? err.message : String(err)) }),
    );
  }

  private onPeerReset(peer: PeerKey, reason: string): void {
    for (const p of [...this.pending.values()]) {
      if (p.key === peer) p.reject(new TransportError(reason, "unreachable"));
    }
  }

  private failAll(err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err);
  }

  /** Sends what was just queued at the end of this tick and makes the poll loop spin again. */
  private kick(): void {
    this.lastWorkAt = performance.now();
    if (this.sleepTimer) {
      clearTimeout(this.sleepTimer);
      this.sleepTimer = undefined;
      this.immediate = setImmediate(this.pump);
    }
    // A few messages go out at once so the peer starts on them while we prepare the rest of the tick's.
    if (++this.queuedSinceFlush >= FLUSH_EVERY) {
      this.flush();
      return;
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flushAtEndOfTick);
  }

  private readonly flushAtEndOfTick = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  private flush(): void {
    this.queuedSinceFlush = 0;
    if (this.closed || this.failure) return;
    try {
      this.endpoint.transmit(performance.now());
    } catch (err) {
      this.fail(err);
    }
  }

  private readonly pump = (): void => {
    this.immediate = undefined;
    this.sleepTimer = undefined;
    if (this.closed || this.failure) return;
    const now = performance.now();
    try {
      const work = this.endpoint.poll(now);
      if (now >= this.nextTimersAt) {
        this.endpoint.runTimers(now);
        this.nextTimersAt = now + 1;
      }
      if (this.opts.io.peerLost && now >= this.nextLinkCheckAt) {
        this.nextLinkCheckAt = now + LINK_CHECK_MS;
        this.watchLink(this.opts.io.peerLost());
      }
      if (work > 0 || this.endpoint.pendingTx()) {
        this.lastWorkAt = now;
      } else if (this.opts.io.nap) {
        // Nothing to do: let whoever shares our core run (our peer, often). Yield first, then nap a tenth of
        // the idle time so far, so a long wait gives the core away without delaying a packet by much.
        const idleUs = (now - this.lastWorkAt) * 1000;
        if (idleUs < this.idleYieldUs) this.opts.io.nap(0);
        else if (this.maxNapUs > 0) this.opts.io.nap(Math.min(this.maxNapUs, Math.max(2, idleUs / 10)));
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    this.schedule(now);
  };

  /** A point-to-point link whose peer went away (net_memif) takes every peer with it: what waits on them fails now,
   * not after the peer timeout, and new requests fail until the link is back (the port reconnects). */
  private watchLink(peerLost: boolean): void {
    if (!peerLost) {
      this.linkLost = undefined;
      return;
    }
    if (this.linkLost) return;
    this.linkLost = `${this.name} link is down (its peer went away)`;
    this.endpoint.resetAll(this.linkLost);
  }

  private schedule(now: number): void {
    if (this.closed) return;
    if (now - this.lastWorkAt < this.spinMs) {
      this.immediate = setImmediate(this.pump);
      return;
    }
    this.sleepTimer = setTimeout(this.pump, this.idleSleepMs);
    // An idle client-only transport must not keep the process alive; a listener or a waiting request does.
    if (!this.handler && this.pending.size === 0) this.sleepTimer.unref?.();
  }

  private fail(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.failure = new TransportError(`${this.name} transport failed: ${reason}`, "closed");
    this.failAll(this.failure);
  }
}
