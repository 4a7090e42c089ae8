// Seeded random bodies against every HTTP state route of the compiled rapr: each answer is a success or a Dapr
// client error ({errorCode, message}, never a 500), and the sidecar stays healthy. A failure prints the seed and body.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { fuzzRandom } from "../support/fuzz.js";

const { seed: SEED, rand, pick } = fuzzRandom(20261123);
const CASES = 400;

let sidecar: Sidecar;
beforeAll(async () => {
  sidecar = await startSidecar();
});
afterAll(async () => {
  await sidecar?.stop();
});

const FIELDS = ["key", "value", "etag", "options", "metadata", "operation", "request", "operations", "keys", "filter", "sort", "page",
  "concurrency", "consistency", "ttlInSeconds", "contentType", "limit", "token", "order", "EQ", "IN", "AND", "OR", "GT"] as const;
const STRINGS = ["", "k", "a||b", "ключ", "🔑", "first-write", "last-write", "strong", "upsert", "delete", "-1", "0", "1", "abc", "1e3",
  "99999999999999", "ASC", "DESC", "person.org", "x'); DROP TABLE state; --", "%ZZ", "\u0000", "  "] as const;

function value(depth: number): unknown {
  const r = rand();
  if (depth > 4 || r < 0.35) {
    return pick<unknown>([null, true, false, 0, -1, 1.5, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, pick(STRINGS), pick(STRINGS), "x".repeat(Math.floor(rand() * 50))]);
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) o[pick(FIELDS)] = value(depth + 1);
  return o;
}

/** Mostly well-formed-looking requests with random parts, some plain garbage. */
function body(route: string): string {
  const r = rand();
  if (r < 0.08) return pick(["", "{", "[", "null", "[{", "\"str\"", "12", "[{}]", "{\"operations\":null}"]);
  const item = () => ({ key: rand() < 0.8 ? pick(STRINGS) : value(3), value: value(1), ...(value(2) as object) });
  switch (route) {
    case "save": return JSON.stringify(rand() < 0.8 ? Array.from({ length: 1 + Math.floor(rand() * 3) }, item) : value(0));
    case "bulk": return JSON.stringify(rand() < 0.7 ? { keys: Array.from({ length: Math.floor(rand() * 4) }, () => (rand() < 0.8 ? pick(STRINGS) : value(3))) } : value(0));
    case "transaction": return JSON.stringify(rand() < 0.8
      ? { operations: Array.from({ length: Math.floor(rand() * 4) }, () => ({ operation: pick(["upsert", "delete", "frob", ""]), request: rand() < 0.8 ? item() : value(2) })) }
      : value(0));
    default: return JSON.stringify(rand() < 0.7
      ? { filter: value(1), ...(rand() < 0.5 ? { sort: [{ key: pick(STRINGS), order: pick(STRINGS) }] } : {}), ...(rand() < 0.5 ? { page: { limit: pick([1, 2, -1, "x", 10_001]), token: pick(STRINGS) } } : {}) }
      : value(0));
  }
}

const ALLOWED = new Set([200, 204, 400, 404, 409, 413]);

test(`${CASES} random requests (seed ${SEED}) get a success or a Dapr client error, never a 500`, async () => {
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const route = pick(["save", "bulk", "transaction", "query", "get", "delete"] as const);
    let res: Response;
    let sent = "";
    if (route === "get" || route === "delete") {
      const key = encodeURIComponent(pick(STRINGS) || "k");
      const q = rand() < 0.5 ? `?consistency=${encodeURIComponent(pick(STRINGS))}&concurrency=${encodeURIComponent(pick(STRINGS))}` : "";
      sent = `${route} ${key}${q}`;
      const headers: Record<string, string> = rand() < 0.3 ? { "if-match": pick(["x", "", "abc"]) } : {};
      res = await sidecar.http(`/v1.0/state/statestore/${key}${q}`, { method: route === "get" ? "GET" : "DELETE", headers });
    } else {
      sent = body(route);
      const path = route === "save" ? "/v1.0/state/statestore" : route === "query" ? "/v1.0-alpha1/state/statestore/query" : `/v1.0/state/statestore/${route}`;
      res = await sidecar.http(path, { method: "POST", body: sent });
    }
    const text = await res.text();
    let ok = ALLOWED.has(res.status);
    if (ok && res.status >= 400) {
      try {
        const err = JSON.parse(text);
        ok = Object.keys(err).sort().join() === "errorCode,message" && err.errorCode !== "ERR_INTERNAL" && typeof err.message === "string" && err.message.length > 0;
      } catch {
        ok = false;
      }
    }
    if (!ok) failures.push(`#${i} ${route} → ${res.status} ${text.slice(0, 200)}\n   sent: ${sent.slice(0, 300)}`);
  }
  expect(failures).toEqual([]);
  expect(sidecar.proc.exitCode).toBeNull();
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
});

test(`${CASES / 2} random gRPC state calls (seed ${SEED}) succeed or fail with a client error code, never Internal`, async () => {
  const grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
  const enc = new TextEncoder();
  const key = () => (rand() < 0.9 ? pick(STRINGS) : "x".repeat(Math.floor(rand() * 300)));
  const num = () => pick([0, 1, 2, 3, 7, -1, 2 ** 31 - 1]);
  const item = () => ({
    key: key(),
    value: enc.encode(JSON.stringify(value(1))),
    ...(rand() < 0.3 ? { etag: { value: pick(STRINGS) } } : {}),
    ...(rand() < 0.3 ? { options: { concurrency: num(), consistency: num() } } : {}),
    ...(rand() < 0.3 ? { metadata: { [pick(["ttlInSeconds", "contentType", "x"])]: pick(STRINGS) } } : {}),
  });
  const calls = [
    () => grpc.saveState({ storeName: pick(["statestore", "statestore", "nope", ""]), states: Array.from({ length: Math.floor(rand() * 3) }, item) }),
    () => grpc.getState({ storeName: "statestore", key: key(), consistency: num() as never }),
    () => grpc.getBulkState({ storeName: "statestore", keys: Array.from({ length: Math.floor(rand() * 4) }, key) }),
    () => grpc.deleteState({ storeName: "statestore", key: key(), ...(rand() < 0.3 ? { etag: { value: pick(STRINGS) } } : {}), options: { concurrency: num(), consistency: num() } }),
    () => grpc.deleteBulkState({ storeName: "statestore", states: Array.from({ length: Math.floor(rand() * 3) }, item) }),
    () => grpc.executeStateTransaction({ storeName: "statestore", operations: Array.from({ length: Math.floor(rand() * 4) }, () => ({ operationType: pick(["upsert", "delete", "", "x"]), ...(rand() < 0.9 ? { request: item() } : {}) })) }),
    () => grpc.queryStateAlpha1({ storeName: "statestore", query: rand() < 0.2 ? pick(STRINGS) : JSON.stringify({ filter: value(1), page: { limit: pick([1, 5, "x"]) } }) }),
  ];
  const clientErrors = new Set([Code.InvalidArgument, Code.Aborted, Code.NotFound, Code.FailedPrecondition]);
  const failures: string[] = [];
  for (let i = 0; i < CASES / 2; i++) {
    const which = Math.floor(rand() * calls.length);
    try {
      await calls[which]();
    } catch (err) {
      const ce = ConnectError.from(err);
      if (!clientErrors.has(ce.code)) failures.push(`#${i} call ${which}: ${Code[ce.code]} ${ce.rawMessage}`);
    }
  }
  expect(failures).toEqual([]);
  expect(sidecar.proc.exitCode).toBeNull();
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
});
