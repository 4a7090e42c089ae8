import { EventEmitter } from "node:events";
import type { UDX } from "./udx.js";
import type { UDXStream } from "./stream.js";
import { isIP, isIPv6, unmapV4 } from "./ip.js";

type BunUdp = import("bun").udp.Socket<"buffer">;

export interface SocketOptions {
  ipv6Only?: boolean;
  reuseAddress?: boolean;
}

/** Drops datagrams at random, for loss tests. rate 0..1; `random` lets a test make it deterministic. */
export interface PacketLoss {
  outgoing?: number;
  incoming?: number;
  random?: () => number;
}

interface QueuedSend {
  data: Uint8Array;
  port: number;
  host: string;
  done?: (ok: boolean) => void;
  ttl: number;
}

const MAX_QUEUED_SENDS = 4096;
const DEFAULT_BUFFER_SIZE = 212992;
const DEFAULT_TTL = 64;

/** A UDP socket shared by datagrams and any number of UDX streams (udx-native's UDXSocket). */
export class UDXSocket extends EventEmitter {
  readonly udx: UDX;
  readonly streams = new Set<UDXStream>();
  userData: unknown = null;

  bytesTransmitted = 0;
  packetsTransmitted = 0;
  bytesReceived = 0;
  packetsReceived = 0;
  readonly packetsDroppedByKernel = 0;

  private handle: BunUdp | null = null;
  private host: string | null = null;
  private family: 0 | 4 | 6 = 0;
  private port = 0;
  private closingPromise: Promise<void> | null = null;
  private closed = false;
  private readonly ipv6Only: boolean;
  private readonly reuseAddress: boolean;
  private sendQueue: QueuedSend[] = [];
  private loss: PacketLoss | null = null;

  constructor(udx: UDX, opts: SocketOptions = {}) {
    super();
    this.udx = udx;
    this.ipv6Only = opts.ipv6Only === true;
    this.reuseAddress = opts.reuseAddress === true;
  }

  get bound(): boolean {
    return this.port !== 0;
  }
  get closing(): boolean {
    return this.closingPromise !== null;
  }
  get idle(): boolean {
    return this.streams.size === 0;
  }
  get busy(): boolean {
    return this.streams.size > 0;
  }

  setPacketLoss(loss: PacketLoss | null): void {
    this.loss = loss;
  }

  toJSON() {
    return {
      bound: this.bound,
      closing: this.closing,
      streams: this.streams.size,
      address: this.address(),
      ipv6Only: this.ipv6Only,
      reuseAddress: this.reuseAddress,
      idle: this.idle,
      busy: this.busy,
    };
  }

  address(): { host: string; family: number; port: number } | null {
    if (!this.bound) return null;
    return { host: this.host!, family: this.family, port: this.port };
  }

  bind(port = 0, host?: string): void {
    if (this.bound) throw new Error("Already bound");
    if (this.closing) throw new Error("Socket is closed");
    if (host) {
      const family = isIP(host);
      if (!family) throw new Error(`${host} is not a valid IP address`);
      this.open(port, host, family);
      return;
    }
    try {
      this.open(port, "::", 6);
    } catch {
      this.open(port, "0.0.0.0", 4);
    }
  }

  // Bun binds synchronously and hands back an already settled promise, which keeps udx's sync bind().
  private open(port: number, host: string, family: 4 | 6): void {
    const pending = Bun.udpSocket({
      port,
      hostname: host,
      socket: {
        data: (_s, data, rport, rhost) => this.onDatagram(data, rport, rhost),
        drain: () => this.flushQueue(),
        // ICMP errors (e.g. ECONNREFUSED from an unreachable port) are ignored, as libudx does.
        error: () => {},
      },
    });
    const result = Bun.peek(pending);
    if (result instanceof Promise) {
      result.catch(() => {});
      throw new Error(`bind ${host}:${port} did not complete synchronously`);
    }
    this.handle = result as BunUdp;
    this.host = host;
    this.family = family;
    this.port = this.handle.port;
    this.udx._socketOpened(this);
    this.emit("listening");
  }

  private onDatagram(data: Buffer, port: number, rawHost: string): void {
    if (this.closed) return;
    if (this.loss?.incoming && (this.loss.random ?? Math.random)() < this.loss.incoming) return;
    const { host, family } = unmapV4(rawHost);
    this.bytesReceived += data.byteLength;
    this.packetsReceived++;
    if (this.udx._onPacket(this, data, port, host, family)) return;
    this.emit("message", data, { host, family, port });
  }

  /** Sends a datagram now, or queues it when the kernel pushes back. Returns false if dropped. */
  _sendRaw(data: Uint8Array, port: number, host: string, done?: (ok: boolean) => void, ttl = 0): boolean {
    if (!this.handle || this.closed) {
      done?.(false);
      return false;
    }
    this.bytesTransmitted += data.byteLength;
    this.packetsTransmitted++;
    this.udx._countTx(data.byteLength);
    if (this.loss?.outgoing && (this.loss.random ?? Math.random)() < this.loss.outgoing) {
      done?.(true);
      return true;
    }
    if (this.family === 4 && isIPv6(host)) {
      done?.(false);
      return false;
    }
    const item: QueuedSend = { data, port, host, done, ttl };
    if (this.sendQueue.length === 0) {
      const sent = this.sendNow(item);
      if (sent !== "again") return sent;
    }
    if (this.sendQueue.length >= MAX_QUEUED_SENDS) {
      done?.(false);
      return false;
    }
    this.sendQueue.push({ ...item, data: Uint8Array.from(data) });
    return true;
  }

  /** One send attempt: true/false when settled (and reported), "again" when the kernel pushed back. */
  private sendNow(item: QueuedSend): boolean | "again" {
    const handle = this.handle!;
    try {
      // udx sends hole-punching packets with a low TTL so they open our NAT without reaching the peer.
      if (item.ttl) handle.setTTL(item.ttl);
      if (!handle.send(item.data, item.port, item.host)) return "again";
      item.done?.(true);
      return true;
    } catch {
      item.done?.(false);
      return false;
    } finally {
      if (item.ttl) handle.setTTL(DEFAULT_TTL);
    }
  }

  private flushQueue(): void {
    while (this.sendQueue.length > 0 && this.handle) {
      if (this.sendNow(this.sendQueue[0]!) === "again") return;
      this.sendQueue.shift();
    }
  }

  async send(buffer: Uint8Array, port: number, host?: string, ttl?: number): Promise<boolean> {
    if (this.closing) return false;
    const target = this.checkTarget(host);
    if (!this.bound) this.bind(0);
    return new Promise((resolve) => this._sendRaw(buffer, port, target, resolve, ttl || 0));
  }

  trySend(buffer: Uint8Array, port: number, host?: string, ttl?: number): void {
    if (this.closing) return;
    const target = this.checkTarget(host);
    if (!this.bound) this.bind(0);
    this._sendRaw(buffer, port, target, undefined, ttl || 0);
  }

  private checkTarget(host?: string): string {
    const target = host || "127.0.0.1";
    if (!isIP(target)) throw new Error(`${target} is not a valid IP address`);
    return target;
  }

  _addStream(stream: UDXStream): boolean {
    if (this.streams.has(stream)) return false;
    this.streams.add(stream);
    if (this.streams.size === 1) this.emit("busy");
    return true;
  }

  _removeStream(stream: UDXStream): boolean {
    if (!this.streams.delete(stream)) return false;
    const closed = this.closeMaybe();
    if (this.idle && !closed) this.emit("idle");
    return true;
  }

  close(): Promise<void> {
    if (this.closingPromise) return this.closingPromise;
    this.closingPromise = new Promise((resolve) => this.once("close", () => resolve()));
    this.closeMaybe();
    return this.closingPromise;
  }

  private closeMaybe(): boolean {
    if (this.closed || this.closingPromise === null) return this.closed;
    if (!this.idle) return false;
    this.closed = true;
    this.sendQueue = [];
    const handle = this.handle;
    this.handle = null;
    if (handle) {
      handle.close();
      this.udx._socketClosed(this);
    }
    queueMicrotask(() => this.emit("close"));
    return true;
  }

  setTTL(ttl: number): void {
    this.requireActive().setTTL?.(ttl);
  }
  getRecvBufferSize(): number {
    this.requireActive();
    return DEFAULT_BUFFER_SIZE;
  }
  setRecvBufferSize(size: number): number {
    this.requireActive();
    return size;
  }
  getSendBufferSize(): number {
    this.requireActive();
    return DEFAULT_BUFFER_SIZE;
  }
  setSendBufferSize(size: number): number {
    this.requireActive();
    return size;
  }
  addMembership(group: string, ifaceAddress?: string): void {
    this.requireActive().addMembership(group, ifaceAddress);
  }
  dropMembership(group: string, ifaceAddress?: string): void {
    this.requireActive().dropMembership(group, ifaceAddress);
  }

  private requireActive(): BunUdp {
    if (!this.handle) throw new Error("Socket not active");
    return this.handle;
  }
}
