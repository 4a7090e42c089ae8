// The HandlerContext of a call on the direct unary path, built as the handler uses it: most handlers (GetState,
// SaveState, PublishEvent) read none of it, and Connect's createHandlerContext costs three Headers copies, a linked
// AbortController, a deadline timer and an error per call. Here each part is made on first use.
import type { DescMethodUnary, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type * as http2 from "node:http2";

/** What the call guard reads of a request's headers; web Headers and a raw HTTP/2 header record both give it. */
export interface HeaderReader {
  get(name: string): string | null;
}

const grpcTimeoutUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** A grpc-timeout header (gRPC's "TimeoutValue TimeoutUnit") in milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(v: string | string[] | undefined): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v);
  return m ? Number(m[1]) * grpcTimeoutUnitMs[m[2]] : undefined;
}

/** An HTTP/2 request's headers, without the pseudo-headers, as web Headers. */
export function headersOf(headers: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) out.append(k, item);
    else out.set(k, String(v));
  }
  return out;
}

export class UnaryCall implements HandlerContext, HeaderReader {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly #deadline: number | undefined;
  #requestHeader?: Headers;
  #responseHeader?: Headers;
  #responseTrailer?: Headers;
  #abort?: AbortController;
  #timer?: ReturnType<typeof setTimeout>;
  #values?: ContextValues;
  #done = false;

  constructor(
    readonly service: DescService,
    readonly method: DescMethodUnary,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly raw: http2.IncomingHttpHeaders,
  ) {
    const timeout = parseGrpcTimeout(raw["grpc-timeout"]);
    this.#deadline = timeout === undefined ? undefined : Date.now() + timeout;
  }

  get(name: string): string | null {
    const v = this.raw[name];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : String(v);
  }

  get url(): string {
    return `http://${this.raw[":authority"] ?? "localhost"}${this.raw[":path"]}`;
  }

  get requestHeader(): Headers {
    return (this.#requestHeader ??= headersOf(this.raw));
  }

  get responseHeader(): Headers {
    return (this.#responseHeader ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.#responseTrailer ??= new Headers());
  }

  get values(): ContextValues {
    return (this.#values ??= createContextValues());
  }

  readonly timeoutMs = (): number | undefined => (this.#deadline === undefined ? undefined : this.#deadline - Date.now());

  /** Aborted when the client goes away or the deadline passes, as Connect's signal is. */
  get signal(): AbortSignal {
    if (this.#abort) return this.#abort.signal;
    const abort = (this.#abort = new AbortController());
    const cancel = () => abort.signal.aborted || abort.abort(new ConnectError("the client closed the stream", Code.Canceled));
    if (this.#done) abort.abort();
    else if (this.stream.closed || this.stream.destroyed) cancel();
    else {
      this.stream.once("close", cancel);
      if (this.#deadline !== undefined) {
        this.#timer = setTimeout(() => abort.signal.aborted || abort.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), Math.max(0, this.#deadline - Date.now()));
      }
    }
    return abort.signal;
  }

  /** The call is answered: stop the deadline timer and abort the signal (if one was handed out). */
  finish(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#abort && !this.#abort.signal.aborted) this.#abort.abort();
  }

  /** Response headers the handler set, for the HEADERS frame. */
  headerFields(): Record<string, string> | undefined {
    return this.#responseHeader && Object.fromEntries(this.#responseHeader);
  }

  trailerFields(): Record<string, string> | undefined {
    return this.#responseTrailer && Object.fromEntries(this.#responseTrailer);
  }
}
