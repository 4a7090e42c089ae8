// An in-memory datagram network with injectable loss, for exercising the reliable endpoint without DPDK.
import { DESC_WORDS, MAX_BURST } from "./shim";
import { SlotBuffers, type PacketIO } from "./packet-io";

interface Datagram {
  bytes: Uint8Array;
  srcIp: number;
  srcPort: number;
}

export class MemoryNetwork {
  private readonly inboxes = new Map<string, Datagram[]>();
  /** Drops a datagram when it returns true; replace to inject loss. */
  drop: (d: { srcIp: number; dstIp: number; len: number }) => boolean = () => false;
  dropped = 0;

  attach(ip: number, port: number): MemoryPacketIO {
    const inbox: Datagram[] = [];
    this.inboxes.set(`${ip}:${port}`, inbox);
    return new MemoryPacketIO(this, ip, port, inbox);
  }

  deliver(dstIp: number, dstPort: number, d: Datagram): void {
    if (this.drop({ srcIp: d.srcIp, dstIp, len: d.bytes.length })) {
      this.dropped++;
      return;
    }
    this.inboxes.get(`${dstIp}:${dstPort}`)?.push(d);
  }

  detach(ip: number, port: number): void {
    this.inboxes.delete(`${ip}:${port}`);
  }
}

export class MemoryPacketIO extends SlotBuffers implements PacketIO {
  constructor(
    private readonly net: MemoryNetwork,
    private readonly ip: number,
    private readonly port: number,
    private readonly inbox: Datagram[],
  ) {
    super();
  }

  txFlush(): number {
    for (let i = 0; i < this.txCount; i++) {
      const len = this.txDesc[i * DESC_WORDS]!;
      const bytes = this.tx.slice(i * this.slotSize, i * this.slotSize + len);
      this.net.deliver(this.txDesc[i * DESC_WORDS + 1]!, this.txDesc[i * DESC_WORDS + 2]!, {
        bytes,
        srcIp: this.ip,
        srcPort: this.port,
      });
    }
    this.txCount = 0;
    return 0;
  }

  rxBurst(): number {
    const n = Math.min(MAX_BURST, this.inbox.length);
    for (let i = 0; i < n; i++) {
      const d = this.inbox.shift()!;
      this.rx.set(d.bytes, i * this.slotSize);
      this.rxDesc[i * DESC_WORDS] = d.bytes.length;
      this.rxDesc[i * DESC_WORDS + 1] = d.srcIp;
      this.rxDesc[i * DESC_WORDS + 2] = d.srcPort;
    }
    return n;
  }
}
