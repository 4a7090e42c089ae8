// Kernel-path transport: the sidecar wire protocol (src/transport/wire.ts, length-prefixed frames multiplexed by
// request id over one connection per peer) on plain TCP. It is the mTLS transport without certificates, so the
// DPDK comparison measures the data plane, not the encoding.
import { MtlsTransport } from "../mtls/index.js";
import type { Transport } from "../transport.js";

export interface KernelTransportOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Largest message either way; default 8 MiB. */
  maxMessageBytes?: number;
}

export function createKernelTransport(opts: KernelTransportOptions = {}): Transport {
  return new MtlsTransport({ ...opts, name: "kernel", maxMessageBytes: opts.maxMessageBytes ?? 8 * 1024 * 1024 });
}
