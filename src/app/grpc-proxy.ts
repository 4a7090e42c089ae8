// Forwards one raw gRPC call (already framed messages) to the app's own gRPC server over HTTP/2 and collects
// the answer: headers, body and trailers. The whole call is buffered, so unary, client- and server-streaming
// calls work; bidirectional calls that interleave do not.
import * as http2 from "node:http2";

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

  call(req: RawGrpcCall): Promise<RawGrpcResult> {
    return new Promise((resolve, reject) => {
      const out: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": req.path, te: "trailers" };
      for (const [k, v] of Object.entries(req.headers)) if (!k.startsWith(":") && !SKIP.has(k)) out[k] = v;
      out["content-type"] ??= "application/grpc";
      if (this.appToken) out["dapr-api-token"] = this.appToken;
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.connect().request(out, { endStream: false });
      } catch (err) {
        return reject(err);
      }
      const headers: Record<string, string> = {};
      const trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      const copy = (from: http2.IncomingHttpHeaders, to: Record<string, string>) => {
        for (const [k, v] of Object.entries(from)) if (!k.startsWith(":") && v !== undefined) to[k] = Array.isArray(v) ? v.join(", ") : String(v);
      };
      stream.on("response", (h) => copy(h, headers));
      stream.on("trailers", (t) => copy(t, trailers));
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => resolve({ headers, trailers, body: new Uint8Array(Buffer.concat(chunks)) }));
      stream.on("error", reject);
      req.signal?.addEventListener("abort", () => stream.close(http2.constants.NGHTTP2_CANCEL), { once: true });
      stream.end(Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength));
    });
  }

  close(): void {
    this.session?.close();
  }
}
