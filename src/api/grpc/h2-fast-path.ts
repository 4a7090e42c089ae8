// Serves gRPC calls straight off HTTP/2 streams. Bun's node:http2 compatibility objects (Http2ServerRequest /
// Http2ServerResponse) cost ~2 ms a call under connect-node's adapter, mostly reading the body with for-await and
// writing through the compat response; the stream API costs ~0.3 ms. The compat layer also lost whole sessions
// under concurrent Connect-protocol calls (see the zero-length write below). Unary gRPC calls go to serveUnary;
// other calls to known routes to Connect's universal handler over the stream. Preflights and unknown paths (proxied
// services) still go to the compat listener; HTTP/1.1 connections never come here.
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import * as http2 from "node:http2";
import { withSpecGrpcMessage } from "./grpc-message.js";
import { acceptsDirectUnary, headersOf, serveUnary, type CallGuard, type UnaryRoute } from "./unary-grpc.js";

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => void;

export interface FastPathRoutes {
  unary: Map<string, UnaryRoute>;
  /** Connect's handlers for every route, used here for the streaming ones. */
  universal: UniversalHandler[];
  guard: CallGuard;
  readMaxBytes: number;
}

/** Puts the fast path in front of the server's compat "stream" listener. */
export function installGrpcFastPath(server: http2.Http2Server, routes: FastPathRoutes): void {
  const byPath = new Map(routes.universal.map((h) => [h.requestPath, h]));
  const compat = server.listeners("stream") as StreamListener[];
  server.removeAllListeners("stream");
  server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, raw: string[]) => {
    const path = String(headers[":path"] ?? "");
    const q = path.indexOf("?");
    const route = q < 0 ? path : path.slice(0, q);
    const unary = routes.unary.get(route);
    if (unary && acceptsDirectUnary(headers)) {
      void serveUnary(stream, headers, unary, routes.guard, routes.readMaxBytes);
      return;
    }
    const handler = byPath.get(route);
    // Browsers never speak cleartext HTTP/2, so preflights and CORS stay with the compat listener; every other call
    // to a known route (gRPC streaming, Connect, gRPC-Web over HTTP/2) is served off the stream.
    if (handler && headers[":method"] !== "OPTIONS") {
      void serve(stream, headers, handler);
      return;
    }
    for (const listener of compat) listener.call(server, stream, headers, flags, raw);
  });
}

async function serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, handler: UniversalHandler): Promise<void> {
  const abort = new AbortController();
  stream.once("close", () => {
    if (!abort.signal.aborted) abort.abort(new ConnectError("the client closed the stream", Code.Canceled));
  });
  const header = headersOf(headers);
  const request: UniversalServerRequest = {
    httpVersion: "2.0",
    method: String(headers[":method"] ?? "POST"),
    url: `http://${headers[":authority"] ?? "localhost"}${headers[":path"]}`,
    header,
    body: bodyOf(stream),
    signal: abort.signal,
  };
  try {
    const response = await handler(request);
    if (stream.destroyed) return;
    const trailer = response.trailer;
    // Connect writes grpc-message with encodeURIComponent (in the head of a trailers-only answer, or the trailers).
    stream.respond({ ":status": response.status, ...withSpecGrpcMessage(Object.fromEntries(response.header ?? [])) }, { waitForTrailers: trailer !== undefined });
    if (trailer) stream.once("wantTrailers", () => stream.sendTrailers(withSpecGrpcMessage(Object.fromEntries(trailer))));
    if (response.body) {
      for await (const chunk of response.body) {
        if (stream.destroyed) return;
        // Bun's HTTP/2 server tears down the whole session when many streams write zero-length chunks (a Connect
        // reply to a method returning Empty is one); an empty body is just end().
        if (chunk.byteLength === 0) continue;
        if (!stream.write(chunk)) await drained(stream);
      }
    }
    stream.end();
  } catch {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

/** The request body as an async iterable, read with events (Bun's async iterator over streams is slow). */
function bodyOf(stream: http2.ServerHttp2Stream): AsyncIterable<Uint8Array> {
  const queue: Uint8Array[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stream.on("data", (chunk: Uint8Array) => {
    queue.push(chunk);
    if (queue.length > 64) stream.pause();
    notify();
  });
  stream.once("end", () => {
    ended = true;
    notify();
  });
  stream.once("close", () => {
    if (!ended) failure ??= new ConnectError("the client closed the stream", Code.Canceled);
    notify();
  });
  stream.once("error", (err) => {
    failure = err;
    notify();
  });
  return {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const chunk = queue.shift();
        if (chunk) {
          if (queue.length < 16 && stream.isPaused()) stream.resume();
          yield chunk;
          continue;
        }
        if (ended) return;
        if (failure) throw failure;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

function drained(stream: http2.ServerHttp2Stream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
  });
}
