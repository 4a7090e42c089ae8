// Reliable message delivery over datagrams: per-peer sequence numbers, cumulative + selective acks,
// retransmission on timeout and on duplicate acks, a sliding window, fragmentation and reassembly.
//
// Sessions: each side picks a random epoch per peer session and stamps packets with (its epoch, the epoch it
// believes the other side has). A packet addressed to an older epoch of ours is stale: dropped, answered with
// a hint so the sender learns our current epoch. A peer that starts over (restart, or it gave up on us)
// resets our state for it, and everything waiting on the old session fails at once.
import { copyEncoded, type EncodedMessage } from "../wire";
import type { PacketIO } from "./packet-io";
import { Peer, RECV_WINDOW, SEND_RING, formatPeer, peerKey, seqDiff, u32, type PeerKey, type SentPacket } from "./peer-session";

export { formatPeer, peerKey, type PeerKey } from "./peer-session";

export const HEADER_BYTES = 40;
const MAGIC = 0x5250;
const VERSION = 1;
const enum PacketType {
  Data = 1,
  Ack = 2,
}
const enum Flag {
  Ping = 1,
  Hint = 2,
  Bye = 4,
}

const ACK_EVERY = 32;
const MIN_CWND = 8;

export interface EndpointOptions {
  maxMessageBytes: number;
  /** A busy peer that sends nothing for this long is declared lost. */
  peerTimeoutMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  maxPeers: number;
}

export const DEFAULT_ENDPOINT_OPTIONS: EndpointOptions = {
  maxMessageBytes: 8 * 1024 * 1024,
  peerTimeoutMs: 3000,
  minRtoMs: 20,
  maxRtoMs: 400,
  maxPeers: 1024,
};

export interface EndpointEvents {
  /** The message is bytes[start, end); `bytes` may be a receive buffer that is reused after the call. */
  onMessage(peer: PeerKey, generation: number, bytes: Uint8Array, start: number, end: number, reused: boolean): void;
  /** Everything sent to or expected from the peer's previous session is gone. */
  onPeerReset(peer: PeerKey, reason: string): void;
  /** How many requests wait for this peer to answer; while non-zero the peer is pinged and watched. */
  waitingFor(peer: PeerKey): number;
}

export interface EndpointStats {
  packetsSent: number;
  packetsReceived: number;
  retransmits: number;
  duplicates: number;
  staleDropped: number;
  peerResets: number;
}

export class ReliableEndpoint {
  readonly stats: EndpointStats = {
    packetsSent: 0,
    packetsReceived: 0,
    retransmits: 0,
    duplicates: 0,
    staleDropped: 0,
    peerResets: 0,
  };
  private readonly peers = new Map<PeerKey, Peer>();
  private readonly maxFragment: number;
  private pollCount = 0;

  constructor(
    private readonly io: PacketIO,
    private readonly events: EndpointEvents,
    private readonly opts: EndpointOptions = DEFAULT_ENDPOINT_OPTIONS,
  ) {
    this.maxFragment = io.maxPayload - HEADER_BYTES;
  }

  /** Queues a message; returns the peer session generation it belongs to. */
  send(ip: number, port: number, msg: EncodedMessage, now: number): number {
    const peer = this.peer(ip, port, now);
    if (!peer.busy()) peer.lastHeard = now; // silence is measured from when we start needing the peer
    peer.queue.push({ encoded: msg, id: peer.nextMsgId, next: 0 });
    peer.nextMsgId = u32(peer.nextMsgId + 1) || 1;
    return peer.generation;
  }

  generation(key: PeerKey): number {
    return this.peers.get(key)?.generation ?? -1;
  }

  /** One round: receive a burst, run timers, transmit. Returns packets moved (0 = idle). */
  poll(now: number): number {
    this.pollCount++;
    let work = 0;
    const n = this.io.rxBurst();
    for (let i = 0; i < n; i++) this.receive(i, now);
    work += n;
    work += this.transmit(now);
    return work;
  }

  /** Retransmission and liveness checks; call about every millisecond. */
  runTimers(now: number): void {
    for (const peer of this.peers.values()) {
      if (peer.inFlight() > 0) this.checkRetransmit(peer, now);
      peer.waiting = this.events.waitingFor(peer.key);
      if (!peer.busy()) continue;
      const silentFor = now - peer.lastHeard;
      if (silentFor > this.opts.peerTimeoutMs) {
        this.resetPeer(peer, `peer ${formatPeer(peer.key)} sent nothing for ${Math.round(silentFor)} ms`, true);
      } else if (peer.waiting > 0 && silentFor > this.opts.peerTimeoutMs / 6 && now - peer.lastPingAt > this.opts.peerTimeoutMs / 6) {
        peer.pingNow = true;
        peer.lastPingAt = now;
      }
    }
  }

  /** Sends whatever is due: retransmissions, new fragments within the window, acks, pings. */
  transmit(now: number): number {
    let packets = 0;
    for (const peer of this.peers.values()) {
      packets += this.transmitPeer(peer, now);
    }
    this.io.txFlush();
    this.stats.packetsSent += packets;
    return packets;
  }

  /** Tells every peer we are going away, so their waiting requests fail now rather than after a timeout. */
  sayGoodbye(): void {
    for (const peer of this.peers.values()) {
      if (peer.remoteEpoch !== 0) this.emitControl(peer, Flag.Bye, peer.remoteEpoch);
    }
    this.io.txFlush();
  }

  /** Every peer's session ends (the link under them went down): waiting requests fail, and the next packets
   * to a peer start a new session, as after a restart. */
  resetAll(reason: string): void {
    for (const peer of this.peers.values()) this.resetPeer(peer, `peer ${formatPeer(peer.key)} lost: ${reason}`, true);
  }

  pendingTx(): boolean {
    for (const peer of this.peers.values()) {
      if (peer.queue.length > 0 || peer.retransmitQueue.length > 0) return true;
    }
    return false;
  }

  private peer(ip: number, port: number, now: number): Peer {
    const key = peerKey(ip, port);
    let peer = this.peers.get(key);
    if (!peer) {
      peer = new Peer(key, ip, port, now, this.opts.minRtoMs * 5);
      this.peers.set(key, peer);
    }
    return peer;
  }

  private resetPeer(peer: Peer, reason: string, newLocalEpoch: boolean): void {
    this.stats.peerResets++;
    peer.resetSession(newLocalEpoch, this.opts.minRtoMs * 5);
    this.events.onPeerReset(peer.key, reason);
  }

  private receive(i: number, now: number): void {
    const io = this.io;
    const len = io.rxDesc[i * 3]!;
    const ip = io.rxDesc[i * 3 + 1]!;
    const port = io.rxDesc[i * 3 + 2]!;
    const at = i * io.slotSize;
    const v = io.rxView;
    if (len < HEADER_BYTES || v.getUint16(at) !== MAGIC || v.getUint8(at + 2) !== VERSION) return;
    const key = peerKey(ip, port);
    if (!this.peers.has(key) && this.peers.size >= this.opts.maxPeers) return;
    const peer = this.peer(ip, port, now);
    this.stats.packetsReceived++;

    const type = v.getUint8(at + 3);
    const flags = v.getUint8(at + 4);
    const srcEpoch = v.getUint32(at + 8);
    const dstEpoch = v.getUint32(at + 12);

    if (dstEpoch !== 0 && dstEpoch !== peer.localEpoch) {
      // Addressed to a session of ours that no longer exists.
      this.stats.staleDropped++;
      if (!(flags & Flag.Hint)) peer.hintTo = srcEpoch;
      return;
    }
    if (srcEpoch !== peer.remoteEpoch) {
      if (peer.remoteEpoch !== 0) this.resetPeer(peer, `peer ${formatPeer(key)} restarted its session`, false);
      peer.remoteEpoch = srcEpoch;
    }
    peer.lastHeard = now;
    if (flags & Flag.Bye) {
      this.resetPeer(peer, `peer ${formatPeer(key)} closed its transport`, true);
      return;
    }
    if (flags & Flag.Ping) peer.ackNow = true;
    if (dstEpoch === peer.localEpoch && !(flags & Flag.Hint)) {
      this.processAck(peer, v.getUint32(at + 20), v.getUint32(at + 24), v.getUint16(at + 6), now);
    }
    if (type === PacketType.Data) this.processData(peer, at, len);
  }

  private processAck(peer: Peer, ack: number, sack: number, window: number, now: number): void {
    peer.peerWindow = window;
    const advance = seqDiff(ack, peer.sndUna);
    if (advance > 0 && seqDiff(ack, peer.nextSeq) <= 0) {
      for (let s = peer.sndUna; s !== ack; s = u32(s + 1)) {
        const idx = s & (SEND_RING - 1);
        const p = peer.inflight[idx];
        if (p && !p.acked && p.retransmits === 0) this.sampleRtt(peer, now - p.sentAt);
        peer.inflight[idx] = undefined;
      }
      peer.sndUna = ack;
      peer.dupAcks = 0;
      peer.cwnd = Math.min(SEND_RING, peer.cwnd + advance);
      peer.rto = this.computeRto(peer);
    } else if (advance === 0 && peer.inFlight() > 0 && sack !== 0) {
      peer.dupAcks++;
      if (peer.dupAcks === 3) {
        const p = peer.inflight[peer.sndUna & (SEND_RING - 1)];
        if (p && !p.acked && !p.queuedForRetransmit) {
          p.queuedForRetransmit = true;
          peer.retransmitQueue.push(p);
        }
      }
    }
    for (let bit = 0; sack !== 0 && bit < 32; bit++) {
      if (!((sack >>> bit) & 1)) continue;
      const s = u32(ack + 1 + bit);
      if (seqDiff(s, peer.nextSeq) >= 0) break;
      const p = peer.inflight[s & (SEND_RING - 1)];
      if (p && p.seq === s) p.acked = true;
    }
  }

  private sampleRtt(peer: Peer, rtt: number): void {
    if (peer.srtt === 0) {
      peer.srtt = rtt;
      peer.rttvar = rtt / 2;
    } else {
      peer.rttvar = 0.75 * peer.rttvar + 0.25 * Math.abs(peer.srtt - rtt);
      peer.srtt = 0.875 * peer.srtt + 0.125 * rtt;
    }
  }

  private computeRto(peer: Peer): number {
    const rto = peer.srtt === 0 ? this.opts.minRtoMs * 5 : peer.srtt + 4 * peer.rttvar;
    return Math.min(this.opts.maxRtoMs, Math.max(this.opts.minRtoMs, rto));
  }

  private processData(peer: Peer, at: number, len: number): void {
    const v = this.io.rxView;
    const seq = v.getUint32(at + 16);
    if (peer.ackPendingSincePoll < 0) peer.ackPendingSincePoll = this.pollCount;
    peer.unackedRx++;
    const d = seqDiff(seq, peer.rcvNext);
    if (d < 0 || d >= RECV_WINDOW || peer.rcvSeen[seq & (RECV_WINDOW - 1)]) {
      this.stats.duplicates++;
      peer.ackNow = true; // the sender missed our ack
      return;
    }
    if (d > 0) {
      peer.rcvSeen[seq & (RECV_WINDOW - 1)] = 1;
      peer.outOfOrder++;
      peer.ackNow = true; // a hole: tell the sender now
    } else {
      peer.rcvNext = u32(peer.rcvNext + 1);
      while (peer.outOfOrder > 0 && peer.rcvSeen[peer.rcvNext & (RECV_WINDOW - 1)]) {
        peer.rcvSeen[peer.rcvNext & (RECV_WINDOW - 1)] = 0;
        peer.outOfOrder--;
        peer.rcvNext = u32(peer.rcvNext + 1);
      }
    }

    const msgId = v.getUint32(at + 28);
    const total = v.getUint32(at + 32);
    const offset = v.getUint32(at + 36);
    const fragLen = len - HEADER_BYTES;
    if (total > this.opts.maxMessageBytes || offset + fragLen > total) {
      this.resetPeer(peer, `peer ${formatPeer(peer.key)} sent a ${total}-byte message (limit ${this.opts.maxMessageBytes})`, true);
      return;
    }
    if (offset === 0 && fragLen === total) {
      this.events.onMessage(peer.key, peer.generation, this.io.rx, at + HEADER_BYTES, at + len, true);
      return;
    }
    let r = peer.reassembly.get(msgId);
    if (!r) {
      r = { buf: new Uint8Array(total), got: 0 };
      peer.reassembly.set(msgId, r);
    }
    r.buf.set(this.io.rx.subarray(at + HEADER_BYTES, at + len), offset);
    r.got += fragLen;
    if (r.got >= total) {
      peer.reassembly.delete(msgId);
      this.events.onMessage(peer.key, peer.generation, r.buf, 0, total, false);
    }
  }

  private checkRetransmit(peer: Peer, now: number): void {
    let expired = 0;
    for (let s = peer.sndUna; s !== peer.nextSeq; s = u32(s + 1)) {
      const p = peer.inflight[s & (SEND_RING - 1)];
      if (!p || p.acked || p.queuedForRetransmit || now - p.sentAt < peer.rto) continue;
      p.queuedForRetransmit = true;
      peer.retransmitQueue.push(p);
      expired++;
    }
    if (expired > 0) {
      peer.rto = Math.min(this.opts.maxRtoMs, peer.rto * 2);
      peer.cwnd = Math.max(MIN_CWND, peer.cwnd >> 1);
    }
  }

  private transmitPeer(peer: Peer, now: number): number {
    let packets = 0;
    while (peer.retransmitQueue.length > 0) {
      const p = peer.retransmitQueue[0]!;
      if (p.acked || seqDiff(p.seq, peer.sndUna) < 0) {
        peer.retransmitQueue.shift();
        p.queuedForRetransmit = false;
        continue;
      }
      if (!this.emitData(peer, p, now)) return packets;
      peer.retransmitQueue.shift();
      p.queuedForRetransmit = false;
      p.retransmits++;
      this.stats.retransmits++;
      packets++;
    }
    const window = Math.min(peer.cwnd, peer.peerWindow, SEND_RING);
    while (peer.queue.length > 0 && peer.inFlight() < window) {
      if (peer.rr >= peer.queue.length) peer.rr = 0;
      const msg = peer.queue[peer.rr]!;
      const len = Math.min(this.maxFragment, msg.encoded.length - msg.next);
      const p: SentPacket = {
        seq: peer.nextSeq,
        msg,
        offset: msg.next,
        len,
        sentAt: now,
        retransmits: 0,
        acked: false,
        queuedForRetransmit: false,
      };
      if (!this.emitData(peer, p, now)) return packets;
      peer.inflight[p.seq & (SEND_RING - 1)] = p;
      peer.nextSeq = u32(peer.nextSeq + 1);
      msg.next += len;
      if (msg.next >= msg.encoded.length) peer.queue.splice(peer.rr, 1);
      else peer.rr++;
      packets++;
    }
    if (peer.hintTo !== 0 && this.emitControl(peer, Flag.Hint, peer.hintTo)) {
      peer.hintTo = 0;
      packets++;
    }
    const ackDue =
      peer.ackNow ||
      peer.unackedRx >= ACK_EVERY ||
      (peer.ackPendingSincePoll >= 0 && peer.ackPendingSincePoll < this.pollCount);
    if (ackDue || peer.pingNow) {
      if (this.emitControl(peer, peer.pingNow ? Flag.Ping : 0, peer.remoteEpoch)) packets++;
    }
    return packets;
  }

  private writeHeader(at: number, peer: Peer, type: PacketType, flags: number, dstEpoch: number): void {
    const v = this.io.txView;
    v.setUint16(at, MAGIC);
    v.setUint8(at + 2, VERSION);
    v.setUint8(at + 3, type);
    v.setUint8(at + 4, flags);
    v.setUint8(at + 5, 0);
    v.setUint16(at + 6, RECV_WINDOW);
    v.setUint32(at + 8, peer.localEpoch);
    v.setUint32(at + 12, dstEpoch);
    v.setUint32(at + 20, peer.rcvNext);
    let sack = 0;
    if (peer.outOfOrder > 0) {
      for (let bit = 0; bit < 32; bit++) {
        if (peer.rcvSeen[(peer.rcvNext + 1 + bit) & (RECV_WINDOW - 1)]) sack |= 1 << bit;
      }
    }
    v.setUint32(at + 24, u32(sack));
    if (flags & (Flag.Hint | Flag.Bye)) return;
    peer.ackNow = false;
    peer.unackedRx = 0;
    peer.ackPendingSincePoll = -1;
  }

  private emitData(peer: Peer, p: SentPacket, now: number): boolean {
    const at = this.io.txReserve();
    if (at < 0) return false;
    this.writeHeader(at, peer, PacketType.Data, 0, peer.remoteEpoch);
    const v = this.io.txView;
    v.setUint32(at + 16, p.seq);
    v.setUint32(at + 28, p.msg.id);
    v.setUint32(at + 32, p.msg.encoded.length);
    v.setUint32(at + 36, p.offset);
    copyEncoded(p.msg.encoded, p.offset, p.len, this.io.tx, at + HEADER_BYTES);
    this.io.txCommit(HEADER_BYTES + p.len, peer.ip, peer.port);
    p.sentAt = now;
    return true;
  }

  private emitControl(peer: Peer, flags: number, dstEpoch: number): boolean {
    const at = this.io.txReserve();
    if (at < 0) return false;
    const ping = (flags & Flag.Ping) !== 0;
    this.writeHeader(at, peer, PacketType.Ack, flags, dstEpoch);
    if (ping) peer.pingNow = false;
    this.io.txView.setUint32(at + 16, 0);
    this.io.txView.setUint32(at + 28, 0);
    this.io.txView.setUint32(at + 32, 0);
    this.io.txView.setUint32(at + 36, 0);
    this.io.txCommit(HEADER_BYTES, peer.ip, peer.port);
    return true;
  }
}
