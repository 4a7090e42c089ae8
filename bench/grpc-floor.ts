// The floors of bench/grpc.ts: servers on the same stack as rapr's API ports that answer a fixed message and do
// nothing else. Usage: bun bench/grpc-floor.ts <node-http2|bun-serve> <port>
//   node-http2: node:http2 under Bun, answering each gRPC call off its stream the way rapr's direct unary path does
//               (HEADERS, one DATA, trailers with grpc-status; answers written together once per event-loop turn,
//               their trailers together after them).
//   bun-serve:  Bun.serve with HTTP/1.1 and prior-knowledge HTTP/2 on one port, a fixed answer. It cannot send HTTP/2
//               trailers (grpc-js reports "Call ended without gRPC status"), so it is no gRPC server: it shows what
//               Bun's native HTTP/2 costs, and is the HTTP API's floor.
import * as http2 from "node:http2";

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
/** A GetStateResponse-sized answer: the 5-byte gRPC prefix and a 5-byte message. */
const reply = new Uint8Array([0, 0, 0, 0, 5, 10, 3, 49, 50, 51]);

if (kind === "node-http2") {
  const server = http2.createServer();
  let queued: http2.ServerHttp2Stream[] = [];
  let trailing: http2.ServerHttp2Stream[] = [];
  const sendTrailers = () => {
    const batch = trailing;
    trailing = [];
    for (const stream of batch) if (!stream.destroyed && !stream.closed) stream.sendTrailers({ "grpc-status": "0" });
  };
  const answerQueued = () => {
    const batch = queued;
    queued = [];
    for (const stream of batch) {
      if (stream.destroyed) continue;
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => trailing.push(stream) === 1 && queueMicrotask(sendTrailers));
      stream.end(reply);
    }
  };
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.on("data", () => {});
    stream.once("end", () => {
      if (queued.push(stream) === 1) setImmediate(answerQueued);
    });
  });
  server.listen(port, "127.0.0.1", () => console.log("ready"));
} else if (kind === "bun-serve") {
  Bun.serve({
    port,
    hostname: "127.0.0.1",
    http2: true,
    async fetch(req) {
      await req.arrayBuffer();
      if (req.headers.get("content-type")?.startsWith("application/grpc")) {
        return new Response(reply, { headers: { "content-type": "application/grpc", "grpc-status": "0" } });
      }
      return new Response("ok");
    },
  });
  console.log("ready");
} else {
  throw new Error(`unknown floor ${kind}`);
}
