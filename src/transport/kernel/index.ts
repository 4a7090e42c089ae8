// Kernel-path transport: length-prefixed binary frames over one TCP connection per peer, multiplexed by
// request id, writes coalesced per tick. Same wire encoding as the DPDK path, so the comparison between
// the two measures the data plane, not the encoding.
import type { Socket, TCPSocketListener } from "bun";
import {
  TransportError,
  type RequestOptions,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from "../transport";
import { decodeMessage, encodeRequest, encodeResponse, MessageType, parseAddress } from "../wire";
import { FrameReader, frameBytes } from "./frames";

export interface KernelTransportOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  maxMessageBytes?: number;
}

interface Conn {
  reader: FrameReader;
  outbox: Uint8Array[];
  unsent: Uint8Array | undefined;
  flushQueued: boolean;
  onFrame(frame: Uint8Array): void;
  onClose(reason: string): void;
}

interface Pending {
  resolve(res: TransportResponse): void;
  reject(err: Error): void;
}

type ConnSocket = Socket<Conn>;

function flush(socket: ConnSocket): void {
  const c = socket.data;
  c.flushQueued = false;
  if (c.unsent) return; // waiting for drain
  if (c.outbox.length === 0) return;
  const data = c.outbox.length === 1 ? c.outbox[0]! : Buffer.concat(c.outbox);
  c.outbox = [];
  const written = socket.write(data);
  if (written < data.length) c.unsent = data.subarray(Math.max(0, written));
}

function enqueue(socket: ConnSocket, frame: Uint8Array): void {
  const c = socket.data;
  c.outbox.push(frame);
  if (!c.flushQueued) {
    c.flushQueued = true;
    queueMicrotask(() => flush(socket));
  }
}

const socketHandlers = {
  data(socket: ConnSocket, chunk: Uint8Array) {
    try {
      socket.data.reader.push(chunk, socket.data.onFrame);
    } catch (err) {
      socket.data.onClose(err instanceof Error ? err.message : String(err));
      socket.end();
    }
  },
  drain(socket: ConnSocket) {
    const c = socket.data;
    if (c.unsent) {
      const written = socket.write(c.unsent);
      c.unsent = written < c.unsent.length ? c.unsent.subarray(Math.max(0, written)) : undefined;
    }
    if (!c.unsent) flush(socket);
  },
  close(socket: ConnSocket) {
    socket.data?.onClose("connection closed");
  },
  error(socket: ConnSocket, err: Error) {
    socket.data?.onClose(err.message);
  },
};

export class KernelTransport implements Transport {
  readonly name = "kernel";
  private listener: TCPSocketListener<Conn> | undefined;
  private readonly conns = new Map<string, Promise<ConnSocket>>();
  private readonly pending = new Map<number, Pending>();
  private readonly accepted = new Set<ConnSocket>();
  /** Request ids in flight per peer address, so a lost connection fails exactly those. */
  private readonly idsByAddress = new Map<string, Set<number>>();
  private nextId = 0;
  private closed = false;
  private readonly maxMessageBytes: number;

  constructor(private readonly opts: KernelTransportOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? 8 * 1024 * 1024;
  }

  async listen(handler: TransportHandler): Promise<string> {
    const host = this.opts.host ?? "127.0.0.1";
    this.listener = Bun.listen<Conn>({
      hostname: host,
      port: this.opts.port ?? 0,
      socket: {
        ...socketHandlers,
        open: (socket) => {
          this.accepted.add(socket);
          socket.data = this.newConn(
            (frame) => this.serve(socket, frame, handler),
            () => this.accepted.delete(socket),
          );
        },
      },
    });
    return `tcp://${host}:${this.listener.port}`;
  }

  async request(address: string, req: TransportRequest, opts: RequestOptions = {}): Promise<TransportResponse> {
    if (this.closed) throw new TransportError("kernel transport closed", "closed");
    const id = (this.nextId = (this.nextId + 1) >>> 0);
    const encoded = encodeRequest(id, req);
    if (encoded.length > this.maxMessageBytes) {
      throw new TransportError(`request of ${encoded.length} bytes exceeds ${this.maxMessageBytes}`, "too-large");
    }
    const socket = await this.connection(address);
    const owned = this.idsByAddress.get(address);
    return new Promise<TransportResponse>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => done(new TransportError(`request to ${address} aborted`, "timeout"));
      const done = (outcome: TransportResponse | Error) => {
        if (!this.pending.delete(id)) return;
        owned?.delete(id);
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      owned?.add(id);
      this.pending.set(id, { resolve: done, reject: done });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(
          () => done(new TransportError(`no answer from ${address} within ${opts.timeoutMs} ms`, "timeout")),
          opts.timeoutMs,
        );
      }
      if (opts.signal) {
        if (opts.signal.aborted) return onAbort();
        opts.signal.addEventListener("abort", onAbort, { once: true });
      }
      enqueue(socket, frameBytes(encoded));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener?.stop(true);
    for (const s of this.accepted) s.end();
    for (const p of this.conns.values()) p.then((s) => s.end(), () => {});
    const err = new TransportError("kernel transport closed", "closed");
    for (const p of [...this.pending.values()]) p.reject(err);
  }

  private newConn(onFrame: (frame: Uint8Array) => void, onClose: (reason: string) => void): Conn {
    return {
      reader: new FrameReader(this.maxMessageBytes),
      outbox: [],
      unsent: undefined,
      flushQueued: false,
      onFrame,
      onClose,
    };
  }

  private connection(address: string): Promise<ConnSocket> {
    let conn = this.conns.get(address);
    if (conn) return conn;
    const { host, port } = parseAddress(address);
    const owned = new Set<number>();
    const lost = (reason: string) => {
      if (this.conns.get(address) === conn) this.conns.delete(address);
      const err = new TransportError(`connection to ${address} lost: ${reason}`, "unreachable");
      for (const id of owned) this.pending.get(id)?.reject(err);
    };
    conn = Bun.connect<Conn>({
      hostname: host,
      port,
      socket: {
        ...socketHandlers,
        open: (socket) => {
          socket.data = this.newConn((frame) => this.onResponse(frame), lost);
        },
        connectError: (_socket, err) => lost(err.message),
      },
    }).then(
      (socket) => {
        socket.setNoDelay?.(true);
        return socket;
      },
      (err: Error) => {
        this.conns.delete(address);
        throw new TransportError(`cannot connect to ${address}: ${err.message}`, "unreachable");
      },
    );
    this.conns.set(address, conn);
    this.idsByAddress.set(address, owned);
    return conn;
  }

  private onResponse(frame: Uint8Array): void {
    let msg;
    try {
      msg = decodeMessage(frame);
    } catch {
      return;
    }
    if (msg.type === MessageType.Response) this.pending.get(msg.id)?.resolve(msg.response);
  }

  private serve(socket: ConnSocket, frame: Uint8Array, handler: TransportHandler): void {
    let msg;
    try {
      msg = decodeMessage(frame);
    } catch {
      return;
    }
    if (msg.type !== MessageType.Request) return;
    const id = msg.id;
    let result: Promise<TransportResponse>;
    try {
      result = handler(msg.request);
    } catch (err) {
      result = Promise.reject(err);
    }
    result
      .catch((err: unknown) => ({
        status: 500,
        headers: {},
        body: new TextEncoder().encode(err instanceof Error ? err.message : String(err)),
      }))
      .then((res) => {
        if (!this.accepted.has(socket)) return;
        enqueue(socket, frameBytes(encodeResponse(id, res)));
      });
  }
}

export function createKernelTransport(opts: KernelTransportOptions = {}): Transport {
  return new KernelTransport(opts);
}
