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

/** What one side of a stream hears from the other. */
export interface StreamEvents {
  data(chunk: Uint8Array): void;
  /** The other side is done sending; from the server, with its trailers. */
  end(trailers: Record<string, string>): void;
  /** The other side gave up, or the connection was lost; nothing more comes either way. */
  reset(error: TransportError): void;
  /** The other side takes data again after having asked for a pause (write returned false). */
  drain(): void;
}

/** Events for a stream nobody follows any more (refused, or not yet handed to its owner). */
export const IGNORED_STREAM: StreamEvents = { data() {}, end() {}, reset() {}, drain() {} };

/** The client's events: the server's head (status and headers) comes before its data and end. */
export interface ClientStreamEvents extends StreamEvents {
  head(head: { status: number; headers: Record<string, string> }): void;
}

/** How one side of a stream talks to the other. */
export interface StreamPeer {
  /** False once the other side asked for a pause: wait for drain before writing more. */
  write(chunk: Uint8Array): boolean;
  end(trailers?: Record<string, string>): void;
  reset(reason: string): void;
  /** Flow control for what this side receives. */
  pause(): void;
  resume(): void;
  /** The other side's verified identity, where the transport has one (the client's view, with mTLS). */
  readonly identity?: string;
}

export interface ServerStreamPeer extends StreamPeer {
  head(status: number, headers: Record<string, string>): void;
}

/** Takes a stream's opening (a request whose body is the first data) and returns what to do with the rest. */
export type StreamHandler = (open: TransportRequest, peer: ServerStreamPeer) => StreamEvents;

export interface RequestOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface Transport {
  /** "kernel", "dpdk", ... */
  readonly name: string;
  /** Starts accepting requests; resolves to the address peers use to reach this node. */
  listen(handler: TransportHandler, streams?: StreamHandler): Promise<string>;
  request(address: string, req: TransportRequest, opts?: RequestOptions): Promise<TransportResponse>;
  /** Bidirectional streams, where the transport has them (the kernel transports do, DPDK does not). */
  openStream?(address: string, open: TransportRequest, events: ClientStreamEvents): Promise<StreamPeer>;
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
