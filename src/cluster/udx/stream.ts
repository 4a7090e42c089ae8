import streamx from "streamx";
import type { UDX } from "./udx.js";
import type { UDXSocket } from "./socket.js";
import { isIP } from "./ip.js";
import {
  DEFAULT_RWND_MAX,
  HEADER_SIZE,
  HIGH_WATERMARK,
  IPV4_OVERHEAD,
  IPV6_OVERHEAD,
  MAX_RTO_TIMEOUTS,
  MAX_SACKS,
  MTU_BASE,
  MTU_MAX,
  MTU_MAX_PROBES,
  MTU_STEP,
  RTO_MAX_MS,
  RTO_MIN_MS,
  TYPE_DATA,
  TYPE_DESTROY,
  TYPE_END,
  TYPE_HEARTBEAT,
  TYPE_MESSAGE,
  TYPE_SACK,
  seqAdd,
  seqDiff,
  seqLess,
  writeHeader,
  type Header,
} from "./wire.js";
import { CongestionControl } from "./congestion.js";

export interface StreamOptions {
  firewall?: (socket: UDXSocket, port: number, host: string, family: number) => boolean;
  framed?: boolean;
  seq?: number;
}

interface WriteRequest {
  size: number;
  acked: number;
  serial: number;
}

interface QueuedWrite {
  req: WriteRequest;
  data: Uint8Array;
  offset: number;
  isEnd: boolean;
}

interface Packet {
  seq: number;
  type: number;
  payload: Uint8Array;
  parts: Array<[WriteRequest, number]>;
  host: string;
  port: number;
  timeSent: number;
  order: number;
  transmits: number;
  rtoTimeouts: number;
  lost: boolean;
  acked: boolean;
  retransmitted: boolean;
  probePadding: number;
}

/** One transmission of a packet; entries of earlier transmissions go stale when it is resent. */
interface InflightEntry {
  pkt: Packet;
  order: number;
}

type MtuState = "base" | "search" | "complete";

const ZERO_PADDING = new Uint8Array(255);
/** Packets later in send order that must be delivered before an older one counts as lost. */
const REORDER_PACKETS = 3;
const TLP_MIN_MS = 10;

function streamError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

const firewallAll = () => true;

/**
 * A reliable, ordered, congestion-controlled UDX stream (udx-native's UDXStream), wire-compatible with
 * libudx: cumulative acks plus SACK blocks, RACK-style loss detection with tail loss probes, RTO with
 * backoff, MTU probing by padding, zero-window probes, relaying and remote changes.
 */
export class UDXStream extends streamx.Duplex {
  readonly udx: UDX;
  readonly id: number;
  socket: UDXSocket | null = null;
  remoteId = 0;
  remoteHost: string | null = null;
  remoteFamily = 0;
  remotePort = 0;
  userData: unknown = null;

  bytesTransmitted = 0;
  packetsTransmitted = 0;
  bytesReceived = 0;
  packetsReceived = 0;
  retransmits = 0;
  rtoCount = 0;
  fastRecoveries = 0;

  private readonly firewall: NonNullable<StreamOptions["firewall"]>;
  private previousSocket: UDXSocket | null = null;
  private closed = false;

  // sender
  private seq = 0;
  private remoteAcked = 0;
  private sendRwnd = DEFAULT_RWND_MAX;
  private sendWl1 = 0;
  private sendWl2 = 0;
  private readonly outgoing = new Map<number, Packet>();
  private inflightQueue: InflightEntry[] = [];
  private inflightHead = 0;
  private inflightCount = 0;
  private inflightBytes = 0;
  private retransmitQueue: Packet[] = [];
  private writeQueue: QueuedWrite[] = [];
  private writesQueuedBytes = 0;
  private hitHighWatermark = false;
  private endPacketAcked = false;
  private ended = false;
  private writeSerial = 0;
  private readonly unackedWrites = new Set<number>();
  private flushWaiters: Array<{ upTo: number; resolve: (ok: boolean) => void }> = [];
  private sendOrder = 0;
  private readonly cc = new CongestionControl();

  // RTT and loss detection
  private srtt = 0;
  private rttvar = 0;
  private rtoMs = 1000;
  private minRtt = Infinity;
  private rackOrder = -1;
  private rackRtt = 0;
  private tlpInFlight = false;

  // MTU
  private mtuValue = MTU_BASE;
  private mtuState: MtuState = "base";
  private mtuProbeSize = MTU_BASE;
  private mtuProbeCount = 0;
  private mtuProbeWanted = false;
  private mtuMax = MTU_MAX;

  // receiver
  private ack = 0;
  private readonly incoming = new Map<number, { type: number; data: Uint8Array }>();
  private ackNeeded = false;
  private endingRemote = false;
  private endedRemote = false;
  private remoteEnded = 0;

  // relaying and remote change
  private relayTarget: UDXStream | null = null;
  private readonly relaying = new Set<UDXStream>();
  private remoteChanging = false;
  private seqOnRemoteChanged = 0;
  private remoteChangingPromise: Promise<void> | null = null;

  // timers
  private keepaliveMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;
  private rtoAt = Infinity;
  private rtoBackoff = 1;
  private tlpAt = Infinity;
  private reoAt = Infinity;
  private keepaliveAt = Infinity;
  private zwpAt = Infinity;

  private onwrite: ((err?: Error | null) => void) | null = null;
  private ondestroy: ((err?: Error | null) => void) | null = null;

  constructor(udx: UDX, id: number, opts: StreamOptions = {}) {
    super({ mapWritable: toBuffer, eagerOpen: true });
    this.udx = udx;
    this.id = id >>> 0;
    this.firewall = opts.firewall ?? firewallAll;
    if (opts.seq) this.setSeq(opts.seq);
    udx._registerStream(this);
  }

  get dead(): boolean {
    return this.closed;
  }
  get connected(): boolean {
    return this.socket !== null;
  }
  get mtu(): number {
    return this.mtuValue;
  }
  get rtt(): number {
    return Math.round(this.srtt);
  }
  get cwnd(): number {
    return Math.floor(this.cc.cwnd);
  }
  get inflight(): number {
    return this.inflightBytes;
  }
  get bbrState(): number {
    return 0;
  }
  get bbrBandwidth(): number {
    return 0;
  }
  get localHost(): string | null {
    return this.socket ? this.socket.address()!.host : null;
  }
  get localFamily(): number {
    return this.socket ? this.socket.address()!.family : 0;
  }
  get localPort(): number {
    return this.socket ? this.socket.address()!.port : 0;
  }

  private setSeq(seq: number): void {
    this.seq = seq >>> 0;
    this.remoteAcked = this.seq;
    this.sendWl2 = this.seq;
  }

  setInteractive(_interactive: boolean): void {}

  setKeepalive(timeoutMs: number): void {
    if (this.closed) return;
    this.keepaliveMs = timeoutMs;
    this.updateIdleTimers();
  }

  connect(
    socket: UDXSocket,
    remoteId: number,
    port: number,
    host?: string | { ack?: number },
    opts: { ack?: number } = {},
  ): void {
    if (this.closed) return;
    if (this.connected) throw new Error("Already connected");
    if (socket.closing) throw new Error("Socket is closed");
    if (typeof host === "object" && host !== null) {
      opts = host;
      host = undefined;
    }
    const target = host || "127.0.0.1";
    const family = isIP(target);
    if (!family) throw new Error(`${target} is not a valid IP address`);
    if (!(port > 0 && port < 65536)) throw new Error(`${port} is not a valid port`);
    if (!socket.bound) socket.bind(0);

    this.remoteId = remoteId >>> 0;
    this.remotePort = port;
    this.remoteHost = target;
    this.remoteFamily = family;
    this.socket = socket;
    if (opts.ack) {
      this.ack = opts.ack >>> 0;
      this.sendWl1 = this.ack;
    }
    this.mtuMax = MTU_MAX;
    this.socket._addStream(this);
    if (this.ackNeeded) {
      this.ackNeeded = false;
      this.sendAck();
    }
    this.updateIdleTimers();
    this.emit("connect");
  }

  changeRemote(socket: UDXSocket, remoteId: number, port: number, host?: string): Promise<void> {
    if (this.remoteChangingPromise) throw new Error("Remote already changing");
    if (!this.connected) throw new Error("Not yet connected");
    if (socket.closing) throw new Error("Socket is closed");
    if (this.socket!.udx !== socket.udx) throw new Error("Cannot change to a socket on another UDX instance");
    const target = host || "127.0.0.1";
    const family = isIP(target);
    if (!family) throw new Error(`${target} is not a valid IP address`);
    if (!(port > 0 && port < 65536)) throw new Error(`${port} is not a valid port`);

    if (this.socket !== socket) this.previousSocket = this.socket;
    this.remoteId = remoteId >>> 0;
    this.remotePort = port;
    this.remoteHost = target;
    this.remoteFamily = family;
    this.socket = socket;

    const promise = new Promise<void>((resolve, reject) => {
      const onchanged = () => {
        this.off("close", onclose);
        resolve();
      };
      const onclose = () => {
        this.off("remote-changed", onchanged);
        reject(new Error("Stream is closed"));
      };
      this.once("remote-changed", onchanged).once("close", onclose);
    });
    this.remoteChangingPromise = promise;
    socket._addStream(this);

    this.resetMtu();
    if (this.seq !== this.remoteAcked) {
      this.remoteChanging = true;
      this.seqOnRemoteChanged = this.seq;
    } else {
      this.onRemoteChanged();
    }
    return promise;
  }

  relayTo(destination: UDXStream): void {
    if (this.closed || this.relayTarget || destination.closed) return;
    this.relayTarget = destination;
    destination.relaying.add(this);
  }

  async send(buffer: Uint8Array): Promise<boolean> {
    if (!this.connected || this.closed) return false;
    return new Promise((resolve) => this.sendMessage(buffer, resolve));
  }

  trySend(buffer: Uint8Array): void {
    if (!this.connected || this.closed) return;
    this.sendMessage(buffer);
  }

  async flush(): Promise<boolean> {
    if ((await streamx.Writable.drained(this)) === false) return false;
    if (this.destroying) return false;
    if (this.unackedWrites.size === 0) return true;
    return new Promise((resolve) => this.flushWaiters.push({ upTo: this.writeSerial, resolve }));
  }

  toJSON() {
    return {
      id: this.id,
      connected: this.connected,
      destroying: this.destroying,
      destroyed: this.destroyed,
      remoteId: this.remoteId,
      remoteHost: this.remoteHost,
      remoteFamily: this.remoteFamily,
      remotePort: this.remotePort,
      mtu: this.mtu,
      rtt: this.rtt,
      cwnd: this.cwnd,
      inflight: this.inflight,
      socket: this.socket ? this.socket.toJSON() : null,
    };
  }

  // ---- streamx hooks -------------------------------------------------------------------------

  override _read(cb: (err?: Error | null) => void): void {
    cb(null);
  }

  override _writev(buffers: Uint8Array[], cb: (err?: Error | null) => void): void {
    if (!this.connected) {
      throw streamError("Writing while not connected not currently supported", "ERR_ASSERTION");
    }
    const req = this.newWrite(buffers.reduce((n, b) => n + b.byteLength, 0));
    for (const data of buffers) this.enqueue({ req, data, offset: 0, isEnd: false });
    if (req.size === 0) this.completeWrite(req);
    this.afterWrite(cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    const req = this.newWrite(0);
    this.enqueue({ req, data: new Uint8Array(0), offset: 0, isEnd: true });
    this.afterWrite(cb);
  }

  override _predestroy(): void {
    if (!this.closed) this.destroyStream();
    this.closed = true;
    this.writeContinue(null);
  }

  override _destroy(cb: (err?: Error | null) => void): void {
    if (this.connected) this.ondestroy = cb;
    else cb(null);
  }

  private writeContinue(err: Error | null): void {
    const cb = this.onwrite;
    this.onwrite = null;
    cb?.(err);
  }

  private newWrite(size: number): WriteRequest {
    const req = { size, acked: 0, serial: ++this.writeSerial };
    this.unackedWrites.add(req.serial);
    return req;
  }

  private enqueue(w: QueuedWrite): void {
    const idle = this.writesQueuedBytes === 0 && this.writeQueue.length === 0;
    this.writeQueue.push(w);
    this.writesQueuedBytes += w.data.byteLength;
    if (idle && this.sendRwnd === 0) {
      this.sendProbe();
      this.zwpAt = now() + this.rtoMs;
      this.scheduleTimer();
    }
  }

  private afterWrite(cb: (err?: Error | null) => void): void {
    this.sendPackets();
    if (this.writesQueuedBytes > HIGH_WATERMARK + this.sendWindowBytes()) {
      this.hitHighWatermark = true;
      this.onwrite = cb;
    } else {
      cb(null);
    }
  }

  private completeWrite(req: WriteRequest): void {
    this.unackedWrites.delete(req.serial);
    if (this.flushWaiters.length === 0) return;
    let lowest = Infinity;
    for (const s of this.unackedWrites) if (s < lowest) lowest = s;
    this.flushWaiters = this.flushWaiters.filter((f) => {
      if (f.upTo >= lowest) return true;
      f.resolve(true);
      return false;
    });
  }

  // ---- sending -------------------------------------------------------------------------------

  private maxPayload(): number {
    return this.mtuValue - (this.remoteFamily === 6 ? IPV6_OVERHEAD : IPV4_OVERHEAD);
  }

  private recvWindow(): number {
    return Math.max(0, DEFAULT_RWND_MAX - (this._readableState?.buffered ?? 0));
  }

  private sendWindowBytes(): number {
    return Math.min(this.cc.cwnd * this.maxPayload(), this.sendRwnd);
  }

  private sendWindowPackets(): number {
    const rwnd = this.sendRwnd === 0 ? 0 : Math.max(1, Math.floor(this.sendRwnd / this.maxPayload()));
    return Math.min(Math.floor(this.cc.cwnd), rwnd);
  }

  private header(type: number, seq: number, dataOffset = 0): Uint8Array {
    const buf = new Uint8Array(HEADER_SIZE);
    writeHeader(buf, { type, dataOffset, id: this.remoteId, rwnd: this.recvWindow(), seq, ack: this.ack });
    return buf;
  }

  private transmit(datagram: Uint8Array, host: string, port: number, done?: (ok: boolean) => void): void {
    const socket = this.socket;
    if (!socket) {
      done?.(false);
      return;
    }
    this.bytesTransmitted += datagram.byteLength;
    this.packetsTransmitted++;
    socket._sendRaw(datagram, port, host, done);
  }

  private sendMessage(buffer: Uint8Array, done?: (ok: boolean) => void): void {
    const datagram = concat([this.header(TYPE_MESSAGE, this.seq), buffer]);
    this.transmit(datagram, this.remoteHost!, this.remotePort, done);
  }

  private sendProbe(): void {
    if (!this.socket) return;
    this.transmit(this.header(TYPE_HEARTBEAT, this.seq), this.remoteHost!, this.remotePort);
  }

  private sendAck(): void {
    if (!this.socket) {
      this.ackNeeded = true;
      return;
    }
    const sacks = this.sackBlocks();

    const datagram = new Uint8Array(HEADER_SIZE + sacks.length * 4);
    writeHeader(datagram, {
      type: sacks.length > 0 ? TYPE_SACK : 0,
      dataOffset: 0,
      id: this.remoteId,
      rwnd: this.recvWindow(),
      seq: this.seq,
      ack: this.ack,
    });
    const view = new DataView(datagram.buffer);
    sacks.forEach((s, i) => view.setUint32(HEADER_SIZE + i * 4, s >>> 0, true));
    this.transmit(datagram, this.remoteHost!, this.remotePort);

    if (this.endingRemote && !this.endedRemote && seqLess(this.remoteEnded, this.ack)) {
      this.endedRemote = true;
      this.push(null);
    }
    if (this.ended && this.endedRemote) this.closeStream(null);
  }

  /** [start, end) ranges of packets received beyond the cumulative ack, as libudx reports them. */
  private sackBlocks(): number[] {
    const blocks: number[] = [];
    let remaining = this.incoming.size;
    let start = -1;
    for (let i = 1; i < 65536 && remaining > 0 && blocks.length < MAX_SACKS * 2; i++) {
      const seq = seqAdd(this.ack, i);
      if (this.incoming.has(seq)) {
        remaining--;
        if (start === -1) start = seq;
        if (remaining === 0) blocks.push(start, seqAdd(seq, 1));
      } else if (start !== -1) {
        blocks.push(start, seq);
        start = -1;
      }
    }
    return blocks;
  }

  private maySend(retransmit: boolean): boolean {
    return retransmit
      ? this.inflightCount < Math.floor(this.cc.cwnd)
      : this.inflightCount < this.sendWindowPackets();
  }

  private sendPackets(): void {
    if (this.closed || !this.socket) return;
    while (this.retransmitQueue.length > 0 && this.maySend(true)) {
      const pkt = this.retransmitQueue.shift()!;
      if (pkt.acked) continue;
      this.retransmit(pkt);
    }
    while (this.maySend(false) && this.sendNewPacket()) {}
  }

  /** Builds the next packet from the write queue and sends it. Returns false when there is nothing to send. */
  private sendNewPacket(): boolean {
    if (this.writeQueue.length === 0) return false;
    const capacity = this.maxPayload();
    const chunks: Uint8Array[] = [];
    const parts: Array<[WriteRequest, number]> = [];
    let size = 0;
    let type = 0;
    while (size < capacity && this.writeQueue.length > 0) {
      const w = this.writeQueue[0]!;
      const len = Math.min(capacity - size, w.data.byteLength - w.offset);
      if (len > 0) {
        chunks.push(w.data.subarray(w.offset, w.offset + len));
        parts.push([w.req, len]);
        w.offset += len;
        size += len;
        type |= TYPE_DATA;
      }
      if (w.offset === w.data.byteLength) {
        this.writeQueue.shift();
        if (w.isEnd) {
          type |= TYPE_END;
          parts.push([w.req, 0]);
          break;
        }
      }
    }
    if (type === 0) return this.writeQueue.length > 0;

    const pkt: Packet = {
      seq: this.seq,
      type,
      payload: chunks.length === 1 ? chunks[0]! : concat(chunks),
      parts,
      host: this.remoteHost!,
      port: this.remotePort,
      timeSent: 0,
      order: 0,
      transmits: 0,
      rtoTimeouts: 0,
      lost: false,
      acked: false,
      retransmitted: false,
      probePadding: 0,
    };
    if (this.mtuProbeWanted && !this.remoteChanging && size === capacity) {
      const overhead = this.remoteFamily === 6 ? IPV6_OVERHEAD : IPV4_OVERHEAD;
      const padding = this.mtuProbeSize - (size + overhead);
      if (padding > 0 && padding <= 255) {
        pkt.probePadding = padding;
        this.mtuProbeWanted = false;
        this.mtuProbeCount++;
      }
    }
    this.seq = seqAdd(this.seq, 1);
    this.outgoing.set(pkt.seq, pkt);
    this.sendPacket(pkt);
    return true;
  }

  private sendPacket(pkt: Packet): void {
    pkt.transmits++;
    pkt.timeSent = now();
    pkt.order = ++this.sendOrder;
    pkt.lost = false;
    this.inflightQueue.push({ pkt, order: pkt.order });
    this.inflightCount++;
    this.inflightBytes += pkt.payload.byteLength + HEADER_SIZE;
    const header = this.header(pkt.type, pkt.seq, pkt.probePadding);
    const parts = pkt.probePadding > 0
      ? [header, ZERO_PADDING.subarray(0, pkt.probePadding), pkt.payload]
      : [header, pkt.payload];
    this.transmit(concat(parts), pkt.host, pkt.port);
    if (this.rtoAt === Infinity) this.rtoAt = pkt.timeSent + this.rtoMs * this.rtoBackoff;
    this.armTlp();
    this.scheduleTimer();
  }

  private retransmit(pkt: Packet): void {
    pkt.retransmitted = true;
    this.retransmits++;
    this.sendPacket(pkt);
  }

  // ---- receiving -----------------------------------------------------------------------------

  _onPacket(socket: UDXSocket, h: Header, buf: Buffer, port: number, host: string, family: number): void {
    this.bytesReceived += buf.byteLength;
    this.packetsReceived++;

    if (this.socket !== socket) {
      if (port <= 0 || port > 65535 || this.firewall(socket, port, host, family)) return;
      if (this.closed) return;
    }
    if (this.relayTarget) return this.relay(buf, h);

    if (h.type & TYPE_HEARTBEAT) {
      this.sendAck();
      return;
    }

    let payload = buf.subarray(HEADER_SIZE);
    const sackBytes = h.type & TYPE_SACK
      ? (h.dataOffset > 0 && h.dataOffset < payload.byteLength ? h.dataOffset : payload.byteLength)
      : 0;
    const sackView = sackBytes > 0 ? new DataView(payload.buffer, payload.byteOffset, sackBytes) : null;
    if (h.dataOffset) {
      if (h.dataOffset > payload.byteLength) return;
      payload = payload.subarray(h.dataOffset);
    }

    if (!seqLess(h.seq, this.ack)) {
      if (h.type & (TYPE_DATA | TYPE_END) && !this.incoming.has(h.seq)) {
        this.receiveData(h.type, h.seq, payload);
        if (this.closed) return;
      }
      if (h.type & TYPE_END) {
        this.endingRemote = true;
        this.remoteEnded = h.seq;
      }
      if (h.type & TYPE_DESTROY) {
        this.closeStream(streamError("connection reset by peer", "ECONNRESET"));
        return;
      }
    }

    if (h.type & TYPE_MESSAGE) {
      this.emit("message", Buffer.from(payload));
      if (this.closed) return;
    }

    this.drainIncoming();
    if (this.closed) return;

    this.onAck(h, sackView);
    if (this.closed) return;

    if (h.type & (TYPE_DATA | TYPE_END)) {
      this.sendAck();
      if (this.closed) return;
    }
    this.sendPackets();
  }

  private receiveData(type: number, seq: number, payload: Uint8Array): void {
    if (seq === this.ack && type & TYPE_DATA) {
      this.ack = seqAdd(this.ack, 1);
      if (payload.byteLength > 0) this.push(Buffer.from(payload));
      return;
    }
    this.incoming.set(seq, { type, data: Buffer.from(payload) });
  }

  private drainIncoming(): void {
    while (this.incoming.size > 0 && !this.closed) {
      const next = this.incoming.get(this.ack);
      if (!next) return;
      this.incoming.delete(this.ack);
      this.ack = seqAdd(this.ack, 1);
      if (next.type & TYPE_DATA && next.data.byteLength > 0) this.push(next.data as Buffer);
    }
  }

  private onAck(h: Header, sackView: DataView | null): void {
    const ack = h.ack;
    if (seqLess(this.seq, ack)) return;

    if (!seqLess(ack, this.remoteAcked)) {
      if (seqLess(this.sendWl1, h.seq) || (this.sendWl1 === h.seq && !seqLess(ack, this.sendWl2))) {
        this.sendRwnd = h.rwnd;
        this.sendWl1 = h.seq;
        this.sendWl2 = ack;
        if (h.rwnd > 0) this.zwpAt = Infinity;
      }
    }

    if (this.remoteChanging && seqDiff(ack, this.seqOnRemoteChanged) >= 0) {
      this.remoteChanging = false;
      this.onRemoteChanged();
      if (this.closed) return;
    }

    if (this.cc.ackEndsEpisode(ack)) this.cc.exitRecovery();

    const advanced = seqDiff(ack, this.remoteAcked) > 0;
    let delivered = 0;
    let endAcked = this.endPacketAcked;
    for (let p = this.remoteAcked; seqLess(p, ack); p = seqAdd(p, 1)) {
      const r = this.ackPacket(p);
      if (this.closed) return;
      if (r === "end") endAcked = true;
      if (r !== "none") delivered++;
    }
    if (advanced) {
      this.remoteAcked = ack;
      this.rtoBackoff = 1;
    }

    if (sackView) {
      for (let i = 0; i + 8 <= sackView.byteLength && i < MAX_SACKS * 8; i += 8) {
        const start = sackView.getUint32(i, true);
        const end = sackView.getUint32(i + 4, true);
        if (!this.sackIsValid(start, end)) continue;
        for (let p = start; p !== end; p = seqAdd(p, 1)) {
          const r = this.ackPacket(p);
          if (this.closed) return;
          if (r === "end") endAcked = true;
          if (r !== "none") delivered++;
        }
      }
    }

    this.endPacketAcked = endAcked;
    // Our side has ended once the END packet *and everything before it* is acked: a SACK can ack the
    // END while earlier packets are still being retransmitted.
    if (endAcked && !this.ended && this.outgoing.size === 0 && this.writeQueue.length === 0) {
      this.ended = true;
      if (this.endedRemote) {
        this.closeStream(null);
        return;
      }
      this.sendAck();
      if (this.closed) return;
    }

    if (delivered > 0) {
      this.tlpInFlight = false;
      this.cc.onDelivered(delivered);
      if (this.remoteAcked === this.seq) {
        this.rtoAt = Infinity;
        this.tlpAt = Infinity;
        this.reoAt = Infinity;
      } else if (advanced) {
        this.rtoAt = now() + this.rtoMs * this.rtoBackoff;
      }
      this.detectLoss();
      this.checkDrain();
      this.updateIdleTimers();
    }
    if (this.remoteAcked !== this.seq && delivered > 0) this.armTlp();
    this.scheduleTimer();
  }

  private sackIsValid(start: number, end: number): boolean {
    if (seqDiff(end, this.seq) > 0) return false;
    if (seqDiff(start, end) >= 0) return false;
    if (seqDiff(start, this.seq) >= 0) return false;
    if (seqDiff(start, this.remoteAcked) < 0) return false;
    return true;
  }

  private ackPacket(seq: number): "none" | "data" | "end" {
    const pkt = this.outgoing.get(seq);
    if (!pkt) return "none";
    this.outgoing.delete(seq);
    pkt.acked = true;

    if (pkt.probePadding > 0 && this.mtuState === "search") {
      this.mtuProbeCount = 0;
      this.mtuValue = this.mtuProbeSize;
      if (this.mtuProbeSize >= this.mtuMax) this.mtuState = "complete";
      else {
        this.mtuProbeSize = Math.min(this.mtuProbeSize + MTU_STEP, this.mtuMax);
        this.mtuProbeWanted = true;
      }
    }
    if (this.mtuState === "base") {
      this.mtuState = "search";
      this.mtuProbeSize = Math.min(MTU_BASE + MTU_STEP, this.mtuMax);
      this.mtuProbeWanted = true;
    }

    if (!pkt.lost) {
      this.inflightCount--;
      this.inflightBytes -= pkt.payload.byteLength + HEADER_SIZE;
    }

    const t = now();
    const rtt = Math.min(t - pkt.timeSent, RTO_MAX_MS);
    if (!pkt.retransmitted) {
      if (this.srtt === 0) {
        this.srtt = rtt;
        this.rttvar = rtt / 2;
      } else {
        this.rttvar = (3 * this.rttvar + Math.abs(this.srtt - rtt)) / 4;
        this.srtt = (7 * this.srtt + rtt) / 8;
      }
      this.minRtt = Math.min(this.minRtt, rtt);
      this.rtoMs = Math.min(Math.max(this.srtt + 4 * this.rttvar, RTO_MIN_MS), RTO_MAX_MS);
    }
    if (!pkt.retransmitted || rtt >= this.minRtt) {
      this.rackRtt = rtt;
      if (pkt.order > this.rackOrder) this.rackOrder = pkt.order;
    }

    for (const [req, len] of pkt.parts) {
      req.acked += len;
      this.writesQueuedBytes -= len;
      if (req.acked === req.size && this.unackedWrites.has(req.serial)) this.completeWrite(req);
    }
    return pkt.type & TYPE_END ? "end" : "data";
  }

  /** RACK (RFC 8985) by send order: a packet is lost once a later-sent packet is delivered and either
   * enough later packets were delivered or a reordering window passed. */
  private detectLoss(): void {
    const t = now();
    const reoWnd = Math.max(Math.min(this.minRtt / 4, this.srtt), 1);
    let lostAny = false;
    this.reoAt = Infinity;
    while (this.inflightHead < this.inflightQueue.length) {
      const entry = this.inflightQueue[this.inflightHead]!;
      const pkt = entry.pkt;
      if (pkt.acked || pkt.lost || pkt.order !== entry.order) {
        this.inflightHead++;
        continue;
      }
      if (pkt.order >= this.rackOrder) break;
      const waited = t - pkt.timeSent;
      if (this.rackOrder - pkt.order < REORDER_PACKETS && waited < this.rackRtt + reoWnd) {
        this.reoAt = pkt.timeSent + this.rackRtt + reoWnd;
        break;
      }
      this.markLost(pkt);
      lostAny = true;
      this.inflightHead++;
    }
    this.compactInflight();
    if (lostAny && this.cc.enterRecovery(this.seq, this.inflightCount)) this.fastRecoveries++;
  }

  private markLost(pkt: Packet): void {
    pkt.lost = true;
    this.inflightCount--;
    this.inflightBytes -= pkt.payload.byteLength + HEADER_SIZE;
    if (pkt.probePadding > 0) this.probeFailed(pkt);
    this.retransmitQueue.push(pkt);
  }

  private compactInflight(): void {
    if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflightQueue.length) {
      this.inflightQueue = this.inflightQueue.slice(this.inflightHead);
      this.inflightHead = 0;
    }
  }

  private probeFailed(pkt: Packet): void {
    pkt.probePadding = 0;
    if (this.mtuState !== "search") return;
    if (this.mtuProbeCount >= MTU_MAX_PROBES) this.mtuState = "complete";
    else this.mtuProbeWanted = true;
  }

  private resetMtu(): void {
    this.mtuValue = MTU_BASE;
    this.mtuState = "base";
    this.mtuProbeCount = 0;
    this.mtuProbeSize = MTU_BASE;
    this.mtuProbeWanted = false;
  }

  private checkDrain(): void {
    if (this.hitHighWatermark && this.writesQueuedBytes < HIGH_WATERMARK + this.sendWindowBytes()) {
      this.hitHighWatermark = false;
      this.writeContinue(null);
    }
  }

  private relay(buf: Buffer, h: Header): void {
    if (seqDiff(h.seq, this.seq) > 0) this.seq = h.seq;
    const target = this.relayTarget!;
    if (target.socket && target.remoteHost) {
      const copy = Uint8Array.from(buf);
      new DataView(copy.buffer).setUint32(4, target.remoteId >>> 0, true);
      target.socket._sendRaw(copy, target.remotePort, target.remoteHost);
    }
    if (h.type & TYPE_DESTROY) this.closeStream(streamError("connection reset by peer", "ECONNRESET"));
  }

  private onRemoteChanged(): void {
    if (this.previousSocket) {
      this.previousSocket._removeStream(this);
      this.previousSocket = null;
    }
    this.remoteChangingPromise = null;
    this.emit("remote-changed");
  }

  // ---- timers --------------------------------------------------------------------------------

  private armTlp(): void {
    if (this.tlpInFlight || this.srtt === 0) {
      this.tlpAt = Infinity;
      return;
    }
    this.tlpAt = now() + Math.max(2 * this.srtt + 2, TLP_MIN_MS);
  }

  private updateIdleTimers(): void {
    const idle = this.remoteAcked === this.seq;
    this.keepaliveAt = idle && this.keepaliveMs > 0 && this.socket ? now() + this.keepaliveMs : Infinity;
    if (idle && this.sendRwnd === 0 && (this.writeQueue.length > 0)) {
      if (this.zwpAt === Infinity) this.zwpAt = now() + this.rtoMs;
    }
    this.scheduleTimer();
  }

  private scheduleTimer(): void {
    if (this.closed) return;
    const next = Math.min(this.rtoAt, this.tlpAt, this.reoAt, this.keepaliveAt, this.zwpAt);
    if (next === Infinity) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - now()));
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed) return;
    const t = now();
    if (this.reoAt <= t) {
      this.reoAt = Infinity;
      this.detectLoss();
      this.sendPackets();
    }
    if (this.tlpAt <= t) {
      this.tlpAt = Infinity;
      this.onTlp();
    }
    if (this.rtoAt <= t) {
      this.rtoAt = Infinity;
      this.onRto();
    }
    if (this.closed) return;
    if (this.keepaliveAt <= t) {
      this.keepaliveAt = this.keepaliveMs > 0 ? t + this.keepaliveMs : Infinity;
      if (this.remoteAcked === this.seq) this.sendProbe();
    }
    if (this.zwpAt <= t) {
      this.zwpAt = this.sendRwnd === 0 ? t + this.rtoMs * 2 : Infinity;
      if (this.sendRwnd === 0) this.sendProbe();
    }
    this.scheduleTimer();
  }

  /** Tail loss probe: send new data if allowed, else resend the newest unacked packet. */
  private onTlp(): void {
    if (this.remoteAcked === this.seq) return;
    this.tlpInFlight = true;
    if (!this.cc.inRecovery && this.writeQueue.length > 0 && this.sendRwnd > 0 && this.sendNewPacket()) return;
    let newest: Packet | null = null;
    for (let i = this.inflightQueue.length - 1; i >= this.inflightHead; i--) {
      const { pkt, order } = this.inflightQueue[i]!;
      if (!pkt.acked && !pkt.lost && pkt.order === order) {
        newest = pkt;
        break;
      }
    }
    if (!newest) return;
    this.inflightCount--;
    this.inflightBytes -= newest.payload.byteLength + HEADER_SIZE;
    this.retransmit(newest);
  }

  private onRto(): void {
    if (this.remoteAcked === this.seq) return;
    this.rtoCount++;
    this.rtoBackoff = Math.min(this.rtoBackoff * 2, 64);
    const head = this.outgoing.get(this.remoteAcked);
    if (head) {
      if (head.rtoTimeouts >= MAX_RTO_TIMEOUTS) {
        this.closeStream(streamError("connection timed out", "ETIMEDOUT"));
        return;
      }
      head.rtoTimeouts++;
    }
    this.cc.onRto(this.seq, this.inflightCount);
    this.tlpInFlight = false;
    this.retransmitQueue = [];
    for (let p = this.remoteAcked; p !== this.seq; p = seqAdd(p, 1)) {
      const pkt = this.outgoing.get(p);
      if (!pkt) continue;
      if (!pkt.lost) {
        pkt.lost = true;
        this.inflightCount--;
        this.inflightBytes -= pkt.payload.byteLength + HEADER_SIZE;
        if (pkt.probePadding > 0) this.probeFailed(pkt);
      }
      this.retransmitQueue.push(pkt);
    }
    this.inflightQueue = [];
    this.inflightHead = 0;
    this.rtoAt = now() + this.rtoMs * this.rtoBackoff;
    this.sendPackets();
  }

  // ---- teardown ------------------------------------------------------------------------------

  private destroyStream(): void {
    if (this.closed) return;
    if (!this.socket) {
      this.closeStream(null);
      return;
    }
    if (!this.relayTarget) {
      const datagram = this.header(TYPE_DESTROY, this.seq);
      this.seq = seqAdd(this.seq, 1);
      this.transmit(datagram, this.remoteHost!, this.remotePort);
    }
    this.closeStream(null);
  }

  private closeStream(err: Error | null): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    this.udx._unregisterStream(this);
    if (this.relayTarget) this.relayTarget.relaying.delete(this);
    for (const s of this.relaying) {
      s.relayTarget = null;
      s.destroy();
    }
    this.relaying.clear();
    this.outgoing.clear();
    this.incoming.clear();
    this.retransmitQueue = [];
    this.inflightQueue = [];
    this.writeQueue = [];
    for (const f of this.flushWaiters) f.resolve(false);
    this.flushWaiters = [];

    if (this.socket) {
      this.socket._removeStream(this);
      this.socket = null;
    }
    if (this.previousSocket) {
      this.previousSocket._removeStream(this);
      this.previousSocket = null;
    }
    if (!err) return this.destroyContinue(null);
    if (this.ondestroy === null) this.destroy(err);
    else this.destroyContinue(err);
  }

  private destroyContinue(err: Error | null): void {
    const cb = this.ondestroy;
    this.ondestroy = null;
    cb?.(err);
  }
}

function now(): number {
  return performance.now();
}

function toBuffer(data: unknown): unknown {
  return typeof data === "string" ? Buffer.from(data) : data;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
