// NATS connections whose writes are coalesced per event-loop turn.
//
// nats-core flushes its outbound buffer once per microtask checkpoint. In a sidecar every publish and every ack
// starts in its own macrotask (an HTTP request, an app's answer), so each one became its own socket write and its
// own read + wake-up inside nats-server: at 64 publishes in flight nats-server burned ~200 µs CPU per message,
// against ~45 µs for a client that batches. Deferring the write to setImmediate gathers everything queued during
// one turn of the event loop into one write, at the cost of waiting out the current turn. Frames still queued when
// the connection drops are lost with it, as bytes in a dead socket's buffer are: a JetStream publish then times
// out (the publisher gets an error), an unacknowledged message is redelivered.
import { NatsConnectionImpl, setTransportFactory, type ConnectionOptions, type NatsConnection } from "@nats-io/nats-core/internal";
import { NodeTransport, nodeResolveHost } from "@nats-io/transport-node/lib/node_transport.js";

/** A turn that queues this much writes at once rather than holding it (nats-core's own inline-flush size). */
const WRITE_NOW_BYTES = 32 * 1024;

class CoalescingTransport extends NodeTransport {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  override send(frame: Uint8Array): void {
    this.pending.push(frame);
    this.pendingBytes += frame.byteLength;
    if (this.pendingBytes >= WRITE_NOW_BYTES) return this.writePending();
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
  const servers = Array.isArray(opts.servers) ? opts.servers : opts.servers ? [opts.servers] : [];
  const ws = servers.find((s) => /^wss?:\/\//i.test(s));
  if (ws) return Promise.reject(new Error(`NATS over WebSocket (${ws}) is not supported: give the server's nats:// or host:port address`));
  // nats-core reads the factory again on every reconnect; this module is the only one in rapr that connects.
  setTransportFactory({ factory: () => new CoalescingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
}
