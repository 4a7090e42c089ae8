// A bare TCP relay for bench/invoke.ts: every connection to RELAY_PORT is piped byte for byte to TARGET_PORT on
// 127.0.0.1. Two of them in a row are the floor for putting two processes on a request's path on this machine:
// the same socket hops as two sidecars, with no HTTP parsing, TLS, routing or policy.
import type { Socket } from "bun";

interface Side {
  peer?: Socket<Side>;
  /** Bytes waiting to be written to this socket (it was not connected yet, or could not take more). */
  pending: Uint8Array[];
  /** Inbound side: what arrived before the outbound connection opened (becomes its pending). */
  early?: Uint8Array[];
}

function write(to: Socket<Side> | undefined, waiting: Uint8Array[], chunk: Uint8Array) {
  if (!to || waiting.length > 0) {
    waiting.push(chunk.slice());
    return;
  }
  const n = to.write(chunk);
  if (n < chunk.byteLength) waiting.push(chunk.slice(Math.max(0, n)));
}

function flush(to: Socket<Side>, waiting: Uint8Array[]) {
  while (waiting.length > 0) {
    const chunk = waiting[0]!;
    const n = to.write(chunk);
    if (n < chunk.byteLength) {
      waiting[0] = chunk.subarray(Math.max(0, n));
      return;
    }
    waiting.shift();
  }
}

const targetPort = Number(process.env.TARGET_PORT);
Bun.listen<Side>({
  hostname: "127.0.0.1",
  port: Number(process.env.RELAY_PORT),
  socket: {
    open(inbound) {
      const early: Uint8Array[] = [];
      inbound.data = { pending: [], early };
      void Bun.connect<Side>({
        hostname: "127.0.0.1",
        port: targetPort,
        socket: {
          open(outbound) {
            outbound.data = { peer: inbound, pending: early };
            inbound.data.peer = outbound;
            flush(outbound, early);
          },
          data: (outbound, chunk) => write(inbound, inbound.data.pending, chunk),
          drain: (outbound) => flush(outbound, outbound.data.pending),
          close: () => void inbound.end(),
          error: () => void inbound.end(),
        },
      }).catch(() => void inbound.end());
    },
    data(inbound, chunk) {
      const outbound = inbound.data.peer;
      write(outbound, outbound ? outbound.data.pending : inbound.data.early!, chunk);
    },
    drain: (inbound) => flush(inbound, inbound.data.pending),
    close: (inbound) => void inbound.data.peer?.end(),
    error: (inbound) => void inbound.data.peer?.end(),
  },
});
