// NATS connections whose writes are coalesced per event-loop turn.
//
// nats-core flushes its outbound buffer once per microtask checkpoint. In a sidecar every publish and every ack
// starts in its own macrotask (an HTTP request, an app's answer), so each one became its own socket write and its
// own read + wake-up inside nats-server: at 64 publishes in flight nats-server burned ~200 µs CPU per message,
// against ~45 µs for a client that batches. Deferring the write to setImmediate gathers everything queued during
// one turn of the event loop into one write, at the cost of waiting out the current turn.
import { NatsConnectionImpl, setTransportFactory, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core/internal";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

class CoalescingTransport extends NodeTransport {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  override send(frame: Uint8Array): void {
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.writePending());
    }
  }

  private writePending(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const frames = this.pending;
    const size = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    super.send(frames.length === 1 ? frames[0]! : Buffer.concat(frames, size));
  }

  override close(err?: Error): Promise<void> {
    if (!err) this.writePending();
    return super.close(err);
  }
}

export function connectCoalesced(opts: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}
