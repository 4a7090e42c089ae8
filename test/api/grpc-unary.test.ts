// The direct unary gRPC path (src/api/grpc/unary-grpc.ts, unary-call.ts) in-process, behind node:http2 as the API
// port runs it, with a Connect gRPC client: many calls at once (answers are written together once per event-loop
// turn), response headers and trailers the handler sets, the request's headers to the guard, the handler's signal on
// a deadline and on cancellation, large messages and the size limit.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { installGrpcFastPath } from "../../src/api/grpc/h2-fast-path.js";
import type { CallGuard, UnaryRoute } from "../../src/api/grpc/unary-grpc.js";
import { waitFor } from "../support/ports.js";

const MAX = 4 * 1024 * 1024;
const aborted: Record<string, unknown> = {};
const tokens: (string | null)[] = [];
let server: http2.Http2Server;
let client: ReturnType<typeof createClient<typeof Dapr>>;

async function getState(req: { key: string }, hc: HandlerContext) {
  const enc = new TextEncoder();
  if (req.key.startsWith("wait")) {
    // Bounded: the test's own deadline or cancellation ends it well before.
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      hc.signal.addEventListener("abort", () => {
        clearTimeout(t);
        aborted[req.key] = hc.signal.reason;
        resolve();
      });
    });
    return {};
  }
  if (req.key === "meta") {
    hc.responseHeader.set("x-answer", "42");
    hc.responseTrailer.set("x-after", "done");
    return { data: enc.encode(hc.requestHeader.get("x-asked") ?? "") };
  }
  if (req.key.startsWith("big:")) return { data: new Uint8Array(Number(req.key.slice(4))).fill(7) };
  if (req.key === "fail") throw new ConnectError("no such thing / here", Code.NotFound);
  return { data: enc.encode(req.key), etag: String(hc.timeoutMs() === undefined) };
}

beforeAll(async () => {
  const guard: CallGuard = (_method, header, fn) => {
    tokens.push(header.get("x-token"));
    return fn();
  };
  const method = Dapr.method.getState as unknown as DescMethodUnary;
  const routes = new Map<string, UnaryRoute>([["/dapr.proto.runtime.v1.Dapr/GetState", { service: Dapr, method, impl: getState as UnaryRoute["impl"] }]]);
  server = http2.createServer();
  installGrpcFastPath(server, { unary: routes, universal: [], guard, readMaxBytes: MAX });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  client = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, readMaxBytes: 16 * 1024 * 1024, writeMaxBytes: 16 * 1024 * 1024 }));
});

afterAll(() => {
  server.close();
});

test("many calls at once on one connection are each answered with their own message", async () => {
  const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
  const out = await Promise.all(keys.map((key) => client.getState({ storeName: "s", key })));
  expect(out.map((o) => new TextDecoder().decode(o.data))).toEqual(keys);
  expect(out[0].etag).toBe("true"); // no grpc-timeout: timeoutMs() is undefined
});

test("headers and trailers the handler sets reach the client; the guard reads the request's headers", async () => {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const out = await client.getState({ storeName: "s", key: "meta" }, { headers: { "x-asked": "why", "x-token": "t1" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
  expect(new TextDecoder().decode(out.data)).toBe("why");
  expect(header?.get("x-answer")).toBe("42");
  expect(trailer?.get("x-after")).toBe("done");
  expect(tokens).toContain("t1");
});

test("a handler's error is the call's status", async () => {
  const err = await client.getState({ storeName: "s", key: "fail" }).catch((e) => ConnectError.from(e));
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.NotFound);
  expect((err as ConnectError).rawMessage).toBe("no such thing / here");
});

test("a deadline reaches the handler's signal, and the call fails with DeadlineExceeded", async () => {
  const err = await client.getState({ storeName: "s", key: "wait-deadline" }, { timeoutMs: 300 }).catch((e) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
  const reason = await waitFor(() => aborted["wait-deadline"], "the handler's signal aborted", 5000);
  expect([Code.DeadlineExceeded, Code.Canceled]).toContain(ConnectError.from(reason).code);
});

test("a client that cancels aborts the handler's signal", async () => {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 150);
  const err = await client.getState({ storeName: "s", key: "wait-cancel" }, { signal: abort.signal }).catch((e) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.Canceled);
  const reason = await waitFor(() => aborted["wait-cancel"], "the handler's signal aborted", 5000);
  expect(ConnectError.from(reason).code).toBe(Code.Canceled);
});

test("large messages both ways (flow control), and a request over the limit is ResourceExhausted", async () => {
  const big = 3 * 1024 * 1024;
  const [a, b] = await Promise.all([client.getState({ storeName: "s", key: `big:${big}` }), client.getState({ storeName: "s", key: `big:${big - 1}` })]);
  expect(a.data.length).toBe(big);
  expect(b.data.length).toBe(big - 1);
  expect(a.data.every((x) => x === 7)).toBe(true);
  const longKey = "k".repeat(2 * 1024 * 1024);
  expect(new TextDecoder().decode((await client.getState({ storeName: "s", key: longKey })).data).length).toBe(longKey.length);
  const err = await client.getState({ storeName: "s", key: "k".repeat(MAX + 10) }).catch((e) => ConnectError.from(e));
  expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
  // The connection still serves calls after that.
  expect(new TextDecoder().decode((await client.getState({ storeName: "s", key: "after" })).data)).toBe("after");
});
