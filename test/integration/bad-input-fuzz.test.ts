// Seeded random bodies against every HTTP state route of the compiled rapr: each answer is a success or a Dapr
// client error ({errorCode, message}, never a 500), and the sidecar stays healthy. A failure prints the seed and body.
// Then random nesting depths on every JSON entry point, HTTP and gRPC: past the limit always a client error naming it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { fuzzRandom, nestedJson } from "../support/fuzz.js";
import { componentYaml } from "../support/components.js";
import { MAX_JSON_DEPTH } from "../../src/json.js";

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
  "99999999999999", "ASC", "DESC", "person.org", "x'); DROP TABLE state; --", "%ZZ", "\u0000", "  ", "sur\ud800", "\udc00", "sur\ufffd"] as const;

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
      // A URL cannot carry a lone surrogate (its UTF-8 does not exist): those strings go in as U+FFFD.
      const inUrl = () => encodeURIComponent(pick(STRINGS).toWellFormed());
      const key = inUrl() || "k";
      const q = rand() < 0.5 ? `?consistency=${inUrl()}&concurrency=${inUrl()}` : "";
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

/**
 * A JSON entry point: `send` puts the nested text where a value goes and reports the answer as a status and error
 * code; `around` is how many levels the request itself wraps around it (they count towards the limit).
 */
interface Entry {
  name: string;
  around: number;
  send(nested: string): Promise<{ status: number; code: string; message: string }>;
}

const NESTING_CASES = 120;

test(`${NESTING_CASES} random nesting depths on every JSON entry point (seed ${SEED}): past ${MAX_JSON_DEPTH} levels a client error naming the limit, never a 500`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "rapr-nesting-fuzz-"));
  const files = join(dir, "files");
  writeFileSync(join(dir, "components.yaml"), [
    componentYaml("statestore", "state.in-memory"),
    componentYaml("pubsub", "pubsub.in-memory"),
    componentYaml("files", "bindings.localstorage", { rootPath: files }),
  ].join("---\n"));
  const nesting = await startSidecar({ args: ["--resources-path", dir, "--dapr-http-max-request-size", "8"] });
  try {
    const grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${nesting.grpcPort}` }));
    const enc = new TextEncoder();
    const http = async (path: string, body: string, contentType = "application/json") => {
      const res = await nesting.http(path, { method: "POST", body, headers: { "content-type": contentType } });
      const text = await res.text();
      let err: { errorCode?: string; message?: string } = {};
      try {
        err = text ? JSON.parse(text) : {};
      } catch {
        // not JSON: reported as is
      }
      return { status: res.status, code: err.errorCode ?? "", message: err.message ?? text.slice(0, 200) };
    };
    const rpc = async (call: () => Promise<unknown>) => {
      try {
        await call();
        return { status: 200, code: "", message: "" };
      } catch (err) {
        const ce = ConnectError.from(err);
        return { status: ce.code === Code.InvalidArgument ? 400 : 500, code: Code[ce.code], message: ce.rawMessage };
      }
    };
    const ce = (x: string) => `{"specversion":"1.0","id":"i","source":"s","type":"t","data":${x}}`;
    const entries: Entry[] = [
      { name: "state save value", around: 2, send: (x) => http("/v1.0/state/statestore", `[{"key":"k","value":${x}}]`) },
      { name: "state save body", around: 0, send: (x) => http("/v1.0/state/statestore", x) },
      { name: "state bulk get", around: 1, send: (x) => http("/v1.0/state/statestore/bulk", `{"keys":${x}}`) },
      { name: "state transaction", around: 4, send: (x) => http("/v1.0/state/statestore/transaction", `{"operations":[{"operation":"upsert","request":{"key":"k","value":${x}}}]}`) },
      { name: "state query", around: 1, send: (x) => http("/v1.0-alpha1/state/statestore/query", `{"filter":${x}}`) },
      { name: "publish JSON", around: 0, send: (x) => http("/v1.0/publish/pubsub/t", x) },
      { name: "publish CloudEvent", around: 1, send: (x) => http("/v1.0/publish/pubsub/t", ce(x), "application/cloudevents+json") },
      { name: "bulk publish", around: 2, send: (x) => http("/v1.0-alpha1/publish/bulk/pubsub/t", `[{"entryId":"1","event":${x},"contentType":"application/json"}]`) },
      { name: "bulk publish CloudEvent", around: 3, send: (x) => http("/v1.0/publish/bulk/pubsub/t", `[{"entryId":"1","event":${ce(x)},"contentType":"application/cloudevents+json"}]`) },
      { name: "binding data", around: 1, send: (x) => http("/v1.0/bindings/files", `{"operation":"create","data":${x},"metadata":{"fileName":"f"}}`) },
      { name: "gRPC PublishEvent", around: 0, send: (x) => rpc(() => grpc.publishEvent({ pubsubName: "pubsub", topic: "t", data: enc.encode(x), dataContentType: "application/json" })) },
      { name: "gRPC PublishEvent CloudEvent", around: 1, send: (x) => rpc(() => grpc.publishEvent({ pubsubName: "pubsub", topic: "t", data: enc.encode(ce(x)), dataContentType: "application/cloudevents+json" })) },
      { name: "gRPC BulkPublishEvent", around: 0, send: (x) => rpc(() => grpc.bulkPublishEvent({ pubsubName: "pubsub", topic: "t", entries: [{ entryId: "1", event: enc.encode(x), contentType: "application/json" }] })) },
      { name: "gRPC QueryStateAlpha1", around: 1, send: (x) => rpc(() => grpc.queryStateAlpha1({ storeName: "statestore", query: `{"filter":${x}}` })) },
    ];
    const failures: string[] = [];
    for (let i = 0; i < NESTING_CASES; i++) {
      const entry = entries[i % entries.length]!;
      const levels = pick([0, 1, 3, MAX_JSON_DEPTH - entry.around - 1, MAX_JSON_DEPTH - entry.around, MAX_JSON_DEPTH - entry.around + 1,
        MAX_JSON_DEPTH + Math.floor(rand() * 1000), 50_000, 300_000]);
      const got = await entry.send(nestedJson(levels, rand));
      const tooDeep = entry.around + levels > MAX_JSON_DEPTH;
      const ok = tooDeep
        ? got.status === 400 && /nested deeper than/.test(got.message)
        : got.status < 500 && got.code !== "ERR_INTERNAL";
      if (!ok) failures.push(`#${i} ${entry.name}, ${levels} levels inside ${entry.around} → ${got.status} ${got.code} ${got.message.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(nesting.proc.exitCode).toBeNull();
    expect((await nesting.http("/v1.0/healthz")).status).toBe(204);
  } finally {
    await nesting.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
