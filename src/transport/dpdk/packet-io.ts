// Batched datagram I/O. The reliable endpoint writes packets straight into tx slots and reads them from rx
// slots; one flush or one receive is one call below, whatever the number of packets.
import { ptr } from "bun:ffi";
import { DEFAULT_MTU, DESC_WORDS, MAX_BURST, UDP_OVERHEAD, type DpdkShim } from "./shim";

/** Slot stride for a given MTU: the largest UDP payload, rounded up to 64 bytes. */
export const slotSizeFor = (mtu: number) => Math.ceil((mtu - UDP_OVERHEAD) / 64) * 64;

export interface PacketIO {
  /** Largest UDP payload one packet carries. */
  readonly maxPayload: number;
  /** Distance in bytes between consecutive packets in tx and rx. */
  readonly slotSize: number;
  readonly tx: Uint8Array;
  readonly txView: DataView;
  /** Byte offset of a free tx slot, or -1 when every slot waits for the port. */
  txReserve(): number;
  /** Queues the packet just written at the reserved offset. */
  txCommit(len: number, ip: number, port: number): void;
  /** Hands queued packets to the port; those it refuses stay queued. Returns how many left. */
  txFlush(): number;
  /** Receives a burst; packet i is at rx offset i*slotSize, its length/ip/port in rxDesc[i*3..]. */
  rxBurst(): number;
  readonly rx: Uint8Array;
  readonly rxView: DataView;
  readonly rxDesc: Uint32Array;
  /** Optional: give the CPU away for `us` microseconds, or yield it once when `us` is 0 (idle poller). */
  nap?(us: number): void;
  /** Optional: whether the port's point-to-point peer went away (net_memif) and is not back: every peer's waiting
   * requests fail then. */
  peerLost?(): boolean;
}

/** Fixed-slot burst buffers owned by JS; the shim reads and writes them in place. */
export class SlotBuffers {
  readonly maxPayload: number;
  readonly slotSize: number;
  readonly tx: Uint8Array;
  readonly txView: DataView;
  readonly txDesc = new Uint32Array(MAX_BURST * DESC_WORDS);
  readonly rx: Uint8Array;
  readonly rxView: DataView;
  readonly rxDesc = new Uint32Array(MAX_BURST * DESC_WORDS);
  txCount = 0;

  constructor(mtu = DEFAULT_MTU) {
    this.maxPayload = mtu - UDP_OVERHEAD;
    this.slotSize = slotSizeFor(mtu);
    this.tx = new Uint8Array(MAX_BURST * this.slotSize);
    this.txView = new DataView(this.tx.buffer);
    this.rx = new Uint8Array(MAX_BURST * this.slotSize);
    this.rxView = new DataView(this.rx.buffer);
  }

  txReserve(): number {
    return this.txCount < MAX_BURST ? this.txCount * this.slotSize : -1;
  }

  txCommit(len: number, ip: number, port: number): void {
    const d = this.txCount * DESC_WORDS;
    this.txDesc[d] = len;
    this.txDesc[d + 1] = ip;
    this.txDesc[d + 2] = port;
    this.txCount++;
  }

  /** Drops the first `sent` queued packets, keeping the rest in order at the front. */
  txConsumed(sent: number): void {
    if (sent >= this.txCount) {
      this.txCount = 0;
      return;
    }
    if (sent <= 0) return;
    this.tx.copyWithin(0, sent * this.slotSize, this.txCount * this.slotSize);
    this.txDesc.copyWithin(0, sent * DESC_WORDS, this.txCount * DESC_WORDS);
    this.txCount -= sent;
  }
}

export class DpdkPacketIO extends SlotBuffers implements PacketIO {
  private readonly txPtr;
  private readonly txDescPtr;
  private readonly rxPtr;
  private readonly rxDescPtr;
  private readonly txFn;
  private readonly rxFn;
  private readonly napFn;
  private readonly peerLostFn;

  constructor(
    private readonly shim: DpdkShim,
    private readonly port: number,
    mtu: number,
  ) {
    super(mtu);
    this.txPtr = ptr(this.tx);
    this.txDescPtr = ptr(this.txDesc);
    this.rxPtr = ptr(this.rx);
    this.rxDescPtr = ptr(this.rxDesc);
    this.txFn = shim.raw.rapr_dpdk_tx;
    this.rxFn = shim.raw.rapr_dpdk_rx;
    this.napFn = shim.raw.rapr_dpdk_nap;
    this.peerLostFn = shim.raw.rapr_dpdk_peer_lost;
  }

  peerLost(): boolean {
    return this.peerLostFn(this.port) === 1;
  }

  txFlush(): number {
    if (this.txCount === 0) return 0;
    const sent = this.shim.check("tx burst", this.txFn(this.port, this.txPtr, this.slotSize, this.txDescPtr, this.txCount));
    this.txConsumed(sent);
    return this.txCount;
  }

  nap(us: number): void {
    this.napFn(us);
  }

  rxBurst(): number {
    return this.shim.check("rx burst", this.rxFn(this.port, this.rxPtr, this.slotSize, this.rxDescPtr, MAX_BURST));
  }
}
