// Per-peer session state for the reliable endpoint: what we sent and await acks for, what we received,
// and the epochs that tell one session of a peer from the next.
import type { EncodedMessage } from "../wire";

export const SEND_RING = 1024; // max packets in flight per peer (power of two)
export const RECV_WINDOW = 512; // packets a receiver accepts beyond its cumulative ack (power of two, <= SEND_RING)

export type PeerKey = number; // ip * 65536 + port

export const peerKey = (ip: number, port: number): PeerKey => ip * 65536 + port;
export const formatPeer = (key: PeerKey): string => {
  const ip = Math.floor(key / 65536);
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${key % 65536}`;
};

export interface OutMessage {
  encoded: EncodedMessage;
  id: number;
  next: number;
}

export interface SentPacket {
  seq: number;
  msg: OutMessage;
  offset: number;
  len: number;
  sentAt: number;
  retransmits: number;
  acked: boolean;
  queuedForRetransmit: boolean;
}

interface Reassembly {
  buf: Uint8Array;
  got: number;
}

export const seqDiff = (a: number, b: number) => (a - b) | 0;
export const u32 = (n: number) => n >>> 0;
const randomEpoch = () => (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;

export class Peer {
  localEpoch = randomEpoch();
  remoteEpoch = 0;
  generation = 0;
  // send side
  nextSeq = 0;
  sndUna = 0;
  inflight: (SentPacket | undefined)[] = new Array(SEND_RING);
  queue: OutMessage[] = [];
  retransmitQueue: SentPacket[] = [];
  nextMsgId = 1;
  rr = 0;
  cwnd = SEND_RING;
  peerWindow = RECV_WINDOW;
  srtt = 0;
  rttvar = 0;
  rto: number;
  dupAcks = 0;
  // receive side
  rcvNext = 0;
  rcvSeen = new Uint8Array(RECV_WINDOW);
  /** Packets received beyond rcvNext (marked in rcvSeen). */
  outOfOrder = 0;
  reassembly = new Map<number, Reassembly>();
  ackPendingSincePoll = -1;
  unackedRx = 0;
  ackNow = false;
  pingNow = false;
  hintTo = 0;
  // liveness
  lastHeard: number;
  lastPingAt = 0;
  waiting = 0;

  constructor(
    readonly key: PeerKey,
    readonly ip: number,
    readonly port: number,
    now: number,
    initialRto: number,
  ) {
    this.lastHeard = now;
    this.rto = initialRto;
  }

  inFlight(): number {
    return seqDiff(this.nextSeq, this.sndUna);
  }

  busy(): boolean {
    return this.inFlight() > 0 || this.queue.length > 0 || this.reassembly.size > 0 || this.waiting > 0;
  }

  resetSession(newLocalEpoch: boolean, initialRto: number): void {
    if (newLocalEpoch) {
      this.localEpoch = randomEpoch();
      this.remoteEpoch = 0;
    }
    this.generation++;
    this.nextSeq = 0;
    this.sndUna = 0;
    this.inflight = new Array(SEND_RING);
    this.queue = [];
    this.retransmitQueue = [];
    this.cwnd = SEND_RING;
    this.peerWindow = RECV_WINDOW;
    this.rto = initialRto;
    this.dupAcks = 0;
    this.rcvNext = 0;
    this.rcvSeen.fill(0);
    this.outOfOrder = 0;
    this.reassembly.clear();
    this.ackPendingSincePoll = -1;
    this.unackedRx = 0;
    this.ackNow = false;
    this.pingNow = false;
  }
}
