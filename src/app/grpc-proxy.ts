// Forwards raw gRPC calls (already framed messages) to the app's own gRPC server over HTTP/2: `call` buffers
// the whole call (for data planes without streams), `open` streams it both ways as it comes.
import * as http2 from "node:http2";
import { TransportError, type ClientStreamEvents, type StreamPeer } from "../transport/transport.js";

export interface RawGrpcCall {
  /** "/package.Service/Method" */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  signal?: AbortSignal;
}

export interface RawGrpcResult {
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Uint8Array;
}

const SKIP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length", "te", "trailer", "dapr-app-id", "dapr-api-token"]);

export class GrpcProxyClient {
  private session?: http2.ClientHttp2Session;

  constructor(private readonly baseUrl: string, private readonly appToken?: string) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect(this.baseUrl);
    s.on("error", () => {});
    s.on("close", () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  private request(path: string, headers: Record<string, string>): http2.ClientHttp2Stream {
    const out: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": path, te: "trailers" };
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":") && !SKIP.has(k)) out[k] = v;
    out["content-type"] ??= "application/grpc";
    if (this.appToken) out["dapr-api-token"] = this.appToken;
    return this.connect().request(out, { endStream: false });
  }

  call(req: RawGrpcCall): Promise<RawGrpcResult> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.request(req.path, req.headers);
      } catch (err) {
        return reject(err);
      }
      const headers: Record<string, string> = {};
      const trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => copy(h, headers));
      stream.on("trailers", (t) => copy(t, trailers));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ headers, trailers, body: new Uint8Array(Buffer.concat(chunks)) }));
      stream.on("error", reject);
      req.signal?.addEventListener("abort", () => stream.close(http2.constants.NGHTTP2_CANCEL), { once: true });
      stream.end(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength));
    });
  }

  /** One call streamed both ways: the app's head, messages and trailers go to `events` as they come; a
   * trailers-only answer (an error before any message) comes as an end without a head. */
  open(path: string, headers: Record<string, string>, events: ClientStreamEvents): StreamPeer {
    const stream = this.request(path, headers);
    let trailersOnly: Record<string, string> | undefined;
    let trailers: Record<string, string> = {};
    let over = false;
    const finish = (fn: () => void) => {
      if (over) return;
      over = true;
      fn();
    };
    stream.on("response", (h) => {
      const head = copy(h, {});
      if (head["grpc-status"] !== undefined) trailersOnly = head;
      else events.head({ status: Number(h[":status"] ?? 200), headers: head });
    });
    stream.on("data", (chunk: Buffer) => !over && events.data(chunk));
    stream.on("trailers", (t) => (trailers = copy(t, {})));
    stream.on("drain", () => !over && events.drain());
    stream.on("end", () => finish(() => events.end(trailersOnly ?? trailers)));
    stream.on("error", (err: Error) => finish(() => events.reset(new TransportError(`the app's gRPC server: ${err.message}`, "unreachable"))));
    stream.on("close", () => finish(() => events.reset(new TransportError(`the app closed the call (HTTP/2 code ${stream.rstCode})`, "protocol"))));
    return {
      write: (chunk) => !stream.destroyed && stream.write(chunk),
      end: () => void (!stream.destroyed && stream.end()),
      // Also after the app's end: the call may still be half open on our side, and must not stay so.
      reset: () => {
        over = true;
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
      pause: () => void stream.pause(),
      resume: () => void stream.resume(),
    };
  }

  close(): void {
    this.session?.close();
  }
}

function copy(from: http2.IncomingHttpHeaders, to: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(from)) if (!k.startsWith(":") && v !== undefined) to[k] = Array.isArray(v) ? v.join(", ") : String(v);
  return to;
}
