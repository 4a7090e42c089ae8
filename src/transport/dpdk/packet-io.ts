// Batched datagram I/O. The reliable endpoint writes packets straight into tx slots and reads them from rx
// slots; one flush or one receive is one call below, whatever the number of packets.
import { ptr } from "bun:ffi";
import { DESC_WORDS, MAX_BURST, MAX_UDP_PAYLOAD, type DpdkShim } from "./shim";

export const SLOT_SIZE = 2048;

export interface PacketIO {
  readonly maxPayload: number;
  readonly tx: Uint8Array;
  readonly txView: DataView;
  /** Byte offset of a free tx slot, or -1 when every slot waits for the port. */
  txReserve(): number;
  /** Queues the packet just written at the reserved offset. */
  txCommit(len: number, ip: number, port: number): void;
  /** Hands queued packets to the port; those it refuses stay queued. Returns how many left. */
  txFlush(): number;
  /** Receives a burst; packet i is at rx offset i*SLOT_SIZE, its length/ip/port in rxDesc[i*3..]. */
  rxBurst(): number;
  readonly rx: Uint8Array;
  readonly rxView: DataView;
  readonly rxDesc: Uint32Array;
}

/** Fixed-slot burst buffers owned by JS; the shim reads and writes them in place. */
export class SlotBuffers {
  readonly tx = new Uint8Array(MAX_BURST * SLOT_SIZE);
  readonly txView = new DataView(this.tx.buffer);
  readonly txDesc = new Uint32Array(MAX_BURST * DESC_WORDS);
  readonly rx = new Uint8Array(MAX_BURST * SLOT_SIZE);
  readonly rxView = new DataView(this.rx.buffer);
  readonly rxDesc = new Uint32Array(MAX_BURST * DESC_WORDS);
  txCount = 0;

  txReserve(): number {
    return this.txCount < MAX_BURST ? this.txCount * SLOT_SIZE : -1;
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
    this.tx.copyWithin(0, sent * SLOT_SIZE, this.txCount * SLOT_SIZE);
    this.txDesc.copyWithin(0, sent * DESC_WORDS, this.txCount * DESC_WORDS);
    this.txCount -= sent;
  }
}

export class DpdkPacketIO extends SlotBuffers implements PacketIO {
  readonly maxPayload = MAX_UDP_PAYLOAD;
  private readonly txPtr = ptr(this.tx);
  private readonly txDescPtr = ptr(this.txDesc);
  private readonly rxPtr = ptr(this.rx);
  private readonly rxDescPtr = ptr(this.rxDesc);
  private readonly txFn;
  private readonly rxFn;

  constructor(
    private readonly shim: DpdkShim,
    private readonly port: number,
  ) {
    super();
    this.txFn = shim.raw.rapr_dpdk_tx;
    this.rxFn = shim.raw.rapr_dpdk_rx;
  }

  txFlush(): number {
    if (this.txCount === 0) return 0;
    const sent = this.shim.check("tx burst", this.txFn(this.port, this.txPtr, SLOT_SIZE, this.txDescPtr, this.txCount));
    this.txConsumed(sent);
    return this.txCount;
  }

  rxBurst(): number {
    return this.shim.check("rx burst", this.rxFn(this.port, this.rxPtr, SLOT_SIZE, this.rxDescPtr, MAX_BURST));
  }
}
