// Sidecar-to-sidecar transport: how one rapr node sends a request to another.
// The kernel path (Connect over HTTP/2 with mTLS) and the DPDK fast path both implement this.

export interface TransportRequest {
  /** Logical operation, e.g. "invoke", "actor", "ping". */
  kind: string;
  /** Free-form routing header, e.g. "orders/method/create". */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

export type TransportHandler = (req: TransportRequest) => Promise<TransportResponse>;

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface Transport {
  /** "kernel", "dpdk", ... */
  readonly name: string;
  /** Starts accepting requests; resolves to the address peers use to reach this node. */
  listen(handler: TransportHandler): Promise<string>;
  request(address: string, req: TransportRequest, opts?: RequestOptions): Promise<TransportResponse>;
  close(): Promise<void>;
}

export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: "unreachable" | "timeout" | "closed" | "too-large" | "protocol",
  ) {
    super(message);
    this.name = "TransportError";
  }
}
