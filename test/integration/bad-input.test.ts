// Hostile and malformed input to the compiled rapr over HTTP and gRPC: every error is a Dapr error naming what
// was wrong, nothing is half-applied, and the sidecar is still healthy afterwards.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { grpcError } from "../support/grpc-error.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { MAX_JSON_DEPTH } from "../../src/json.js";

const MB = 1024 * 1024;
const enc = new TextEncoder();
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
let sidecar: Sidecar;
let grpc: Client<typeof Dapr>;

beforeAll(async () => {
  sidecar = await startSidecar({ args: ["--dapr-http-max-request-size", "1"] });
  grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
});
afterAll(async () => {
  await sidecar?.stop();
});

const post = (path: string, body: RequestInit["body"], headers: Record<string, string> = { "content-type": "application/json" }) =>
  sidecar.http(path, { method: "POST", body, headers });
const save = (body: unknown) => post("/v1.0/state/statestore", typeof body === "string" ? body : JSON.stringify(body));
const transact = (operations: unknown) => post("/v1.0/state/statestore/transaction", JSON.stringify({ operations }));

/** Asserts a Dapr error response: the status, exactly {errorCode, message}, and a message naming the problem. */
async function expectDaprError(res: Response, status: number, errorCode: string, message: RegExp) {
  const text = await res.text();
  expect({ status: res.status, text }).toMatchObject({ status });
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = JSON.parse(text);
  expect(Object.keys(body).sort()).toEqual(["errorCode", "message"]);
  expect(body.errorCode).toBe(errorCode);
  expect(body.message).toMatch(message);
}

async function httpGet(key: string): Promise<Response> {
  return sidecar.http(`/v1.0/state/statestore/${encodeURIComponent(key)}`);
}

describe("HTTP: malformed and mistyped bodies are 400 ERR_MALFORMED_REQUEST naming the problem", () => {
  test("malformed JSON, empty body, invalid UTF-8, and a body of the wrong shape", async () => {
    await expectDaprError(await save("[{\"key\": \"a\", "), 400, "ERR_MALFORMED_REQUEST", /parse request body as JSON/);
    await expectDaprError(await save(""), 400, "ERR_MALFORMED_REQUEST", /body is empty/);
    await expectDaprError(await post("/v1.0/state/statestore", new Uint8Array([0x5b, 0xff, 0xfe, 0x5d])), 400, "ERR_MALFORMED_REQUEST", /not valid UTF-8/);
    await expectDaprError(await save({ key: "a", value: 1 }), 400, "ERR_MALFORMED_REQUEST", /JSON array/);
    await expectDaprError(await save("null"), 400, "ERR_MALFORMED_REQUEST", /JSON array/);
    await expectDaprError(await save([null]), 400, "ERR_MALFORMED_REQUEST", /\[0\] must be an object/);
  });

  test("wrong types: key as number, value missing, etag as number, options not an object", async () => {
    await expectDaprError(await save([{ key: 42, value: 1 }]), 400, "ERR_MALFORMED_REQUEST", /\[0\]\.key must be a string/);
    await expectDaprError(await save([{ key: "ok", value: 1 }, { key: "no-value" }]), 400, "ERR_MALFORMED_REQUEST", /\[1\]\.value is required/);
    await expectDaprError(await save([{ key: "a", value: 1, etag: 5 }]), 400, "ERR_MALFORMED_REQUEST", /etag must be a string/);
    await expectDaprError(await save([{ key: "a", value: 1, options: "fast" }]), 400, "ERR_MALFORMED_REQUEST", /options must be an object/);
    expect((await httpGet("ok")).status).toBe(204); // the valid first item of the rejected batch was not saved
  });

  test("bogus options.concurrency, consistency and ttlInSeconds are refused by value", async () => {
    await expectDaprError(await save([{ key: "a", value: 1, options: { concurrency: "bogus" } }]), 400, "ERR_MALFORMED_REQUEST", /concurrency must be "first-write" or "last-write", got "bogus"/);
    await expectDaprError(await save([{ key: "a", value: 1, options: { consistency: "sometimes" } }]), 400, "ERR_MALFORMED_REQUEST", /consistency must be "strong" or "eventual", got "sometimes"/);
    await expectDaprError(await save([{ key: "a", value: 1, metadata: { ttlInSeconds: "abc" } }]), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds must be an integer.*got "abc"/);
    await expectDaprError(await save([{ key: "a", value: 1, metadata: { ttlInSeconds: "1.5" } }]), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds/);
    // An expiry beyond what a date can hold would leave an item no GET can return.
    await expectDaprError(await save([{ key: "far", value: 1, metadata: { ttlInSeconds: "99999999999999" } }]), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds.*"99999999999999"/);
    expect((await httpGet("far")).status).toBe(204);
    // A content type that is no valid header value would make every later GET of the item fail.
    await expectDaprError(await save([{ key: "ct", value: 1, metadata: { contentType: "ключ" } }]), 400, "ERR_MALFORMED_REQUEST", /metadata\.contentType must be a media type/);
    await expectDaprError(await save([{ key: "ct", value: 1, metadata: { contentType: "text/plain\r\nx-evil: 1" } }]), 400, "ERR_MALFORMED_REQUEST", /contentType/);
    expect((await save([{ key: "ct", value: "t", metadata: { contentType: "text/plain; charset=utf-8" } }])).status).toBe(204);
    expect((await httpGet("ct")).headers.get("content-type")).toBe("text/plain; charset=utf-8");
    await expectDaprError(await sidecar.http("/v1.0/state/statestore/a?consistency=bogus"), 400, "ERR_MALFORMED_REQUEST", /consistency.*got "bogus"/);
    await expectDaprError(await sidecar.http("/v1.0/state/statestore/a?concurrency=bogus", { method: "DELETE" }), 400, "ERR_MALFORMED_REQUEST", /concurrency.*got "bogus"/);
  });

  test("empty keys and keys containing '||' are refused everywhere a key goes", async () => {
    await expectDaprError(await save([{ key: "", value: 1 }]), 400, "ERR_MALFORMED_REQUEST", /key must be a non-empty string/);
    await expectDaprError(await save([{ key: "a||b", value: 1 }]), 400, "ERR_MALFORMED_REQUEST", /"a\|\|b" can't contain '\|\|'/);
    await expectDaprError(await httpGet("a||b"), 400, "ERR_MALFORMED_REQUEST", /can't contain '\|\|'/);
    await expectDaprError(await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: ["fine", ""] })), 400, "ERR_MALFORMED_REQUEST", /keys\[1\] must be a non-empty string/);
    await expectDaprError(await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: [1, 2] })), 400, "ERR_MALFORMED_REQUEST", /keys\[0\]/);
    await expectDaprError(await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: "a" })), 400, "ERR_MALFORMED_REQUEST", /\{"keys": \[\.\.\.\]\}/);
  });

  test("unicode keys and values round-trip; GET takes the percent-encoded key", async () => {
    const key = "ключ-🔑-鍵 ü";
    expect((await save([{ key, value: { text: "héllo 🌍" } }])).status).toBe(204);
    const res = await httpGet(key);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: "héllo 🌍" });
    const bulk = await (await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: [key] }))).json();
    expect(bulk).toMatchObject([{ key, data: { text: "héllo 🌍" } }]);
    expect((await sidecar.http(`/v1.0/state/statestore/${encodeURIComponent(key)}`, { method: "DELETE" })).status).toBe(204);
    expect((await httpGet(key)).status).toBe(204);
  });

  test("deeply nested JSON is 400 on every state route, not a stack overflow; the deepest accepted nesting round-trips", async () => {
    const tooDeep = /failed to parse request body as JSON: JSON nested deeper than 1000 levels/;
    await expectDaprError(await save(`[{"key":"deep","value":${deep(300_000)}}]`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    await expectDaprError(await save(`[{"key":"deep","value":1,"metadata":{"m":${deep(300_000)}}}]`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    await expectDaprError(await save(deep(300_000)), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    await expectDaprError(await post("/v1.0/state/statestore/bulk", `{"keys":${deep(MAX_JSON_DEPTH + 1)}}`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    await expectDaprError(await post("/v1.0/state/statestore/transaction", `{"operations":[{"operation":"upsert","request":{"key":"deep","value":${deep(MAX_JSON_DEPTH)}}}]}`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    const deepFilter = (n: number) => '{"AND":['.repeat(n) + '{"EQ":{"a":1}}' + "]}".repeat(n);
    await expectDaprError(await post("/v1.0-alpha1/state/statestore/query", `{"filter":${deepFilter(20_000)}}`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    await expectDaprError(await post("/v1.0-alpha1/state/statestore/query", `{"filter":${deepFilter(100)}}`), 400, "ERR_MALFORMED_REQUEST", /nested deeper than 32 levels/);
    expect((await httpGet("deep")).status).toBe(204);
    // Exactly at the limit (the item is one level, its value the rest) is fine, and comes back as it went in.
    expect((await save(`[{"key":"deepest","value":${deep(MAX_JSON_DEPTH - 2)}}]`)).status).toBe(204);
    expect(await (await httpGet("deepest")).text()).toBe(deep(MAX_JSON_DEPTH - 2));
  });

  test("a stored value nested too deeply for a JSON answer comes back from bulk get and query as text, not a 500", async () => {
    await grpc.saveState({ storeName: "statestore", states: [{ key: "deep-stored", value: enc.encode(deep(300_000)) }] });
    const bulk = await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: ["deep-stored"] }));
    expect(bulk.status).toBe(200);
    expect(((await bulk.json()) as any)[0]).toMatchObject({ key: "deep-stored", data: deep(300_000) });
    const query = await post("/v1.0-alpha1/state/statestore/query", JSON.stringify({ filter: { EQ: { x: 1 } } }));
    expect(query.status).toBe(200);
    await sidecar.http("/v1.0/state/statestore/deep-stored", { method: "DELETE" });
  });

  test("deeply nested JSON is 400 on publish (JSON and CloudEvents), bulk publish and bindings, naming the limit", async () => {
    const publish = (body: string, contentType: string) => post("/v1.0/publish/pubsub/deep", body, { "content-type": contentType });
    const tooDeep = /nested deeper than 1000 levels/;
    await expectDaprError(await publish(deep(300_000), "application/json"), 400, "ERR_PUBSUB_CLOUD_EVENTS_SER", tooDeep);
    await expectDaprError(await publish(deep(MAX_JSON_DEPTH + 1), "application/json"), 400, "ERR_PUBSUB_CLOUD_EVENTS_SER", tooDeep);
    await expectDaprError(await publish(`{"specversion":"1.0","id":"1","source":"s","type":"t","data":${deep(300_000)}}`, "application/cloudevents+json"), 400, "ERR_PUBSUB_CLOUD_EVENTS_SER", tooDeep);
    await expectDaprError(await publish(`{"id":"1","ext":${deep(MAX_JSON_DEPTH)}}`, "application/cloudevents+json"), 400, "ERR_PUBSUB_CLOUD_EVENTS_SER", tooDeep);
    for (const path of ["/v1.0-alpha1/publish/bulk/pubsub/deep", "/v1.0/publish/bulk/pubsub/deep"]) {
      await expectDaprError(await post(path, `[{"entryId":"1","event":${deep(300_000)},"contentType":"application/json"}]`), 400, "ERR_PUBSUB_EVENTS_SER", tooDeep);
    }
    await expectDaprError(await post("/v1.0/bindings/files", `{"operation":"create","data":${deep(300_000)}}`), 400, "ERR_MALFORMED_REQUEST", tooDeep);
    // Just under the limit is published.
    expect((await publish(deep(MAX_JSON_DEPTH), "application/json")).status).toBe(204);
  });

  test("a path segment that is not valid percent-encoding is 400 naming the URL part", async () => {
    await expectDaprError(await sidecar.http("/v1.0/state/statestore/%E0%A4%A"), 400, "ERR_MALFORMED_REQUEST", /key in the URL is not valid percent-encoded/);
    await expectDaprError(await sidecar.http("/v1.0/state/statestore/%ZZ", { method: "DELETE" }), 400, "ERR_MALFORMED_REQUEST", /key in the URL/);
    await expectDaprError(await post("/v1.0/state/%ZZ", "[]"), 400, "ERR_MALFORMED_REQUEST", /store in the URL/);
    await expectDaprError(await sidecar.http("/v1.0/metadata/%ZZ", { method: "PUT", body: "x" }), 400, "ERR_MALFORMED_REQUEST", /metadata key in the URL/);
  });

  test("query with a bad operator, field path or page token is 400", async () => {
    const query = (q: unknown) => post("/v1.0-alpha1/state/statestore/query", JSON.stringify(q));
    await expectDaprError(await query({ filter: { LIKE: { a: 1 } } }), 400, "ERR_MALFORMED_REQUEST", /unknown operator "LIKE"/);
    await expectDaprError(await query({ filter: { EQ: { "a'); DROP TABLE state; --": 1 } } }), 400, "ERR_MALFORMED_REQUEST", /not a valid field path/);
    await expectDaprError(await query({ page: { token: "abc" } }), 400, "ERR_MALFORMED_REQUEST", /page\.token/);
    await expectDaprError(await query({ page: { limit: "ten" } }), 400, "ERR_MALFORMED_REQUEST", /page\.limit/);
    await expectDaprError(await query({ page: { limit: 2, token: "99999999999999999999999" } }), 400, "ERR_MALFORMED_REQUEST", /page\.token/);
  });
});

describe("HTTP: size limits, unknown stores, etags, transactions", () => {
  test("a body over --dapr-http-max-request-size is 413 ERR_BODY_TOO_LARGE, with or without Content-Length", async () => {
    const huge = JSON.stringify([{ key: "huge", value: "x".repeat(2 * MB) }]);
    await expectDaprError(await save(huge), 413, "ERR_BODY_TOO_LARGE", /exceeds --dapr-http-max-request-size \(1048576 bytes\)/);
    const veryHuge = new Uint8Array(40 * MB).fill(0x61);
    await expectDaprError(await post("/v1.0/state/statestore", veryHuge), 413, "ERR_BODY_TOO_LARGE", /max-request-size/);
    const chunks = [enc.encode('[{"key":"huge","value":"'), ...Array.from({ length: 3 }, () => new Uint8Array(MB).fill(0x61)), enc.encode('"}]')];
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    await expectDaprError(await post("/v1.0/state/statestore", chunked), 413, "ERR_BODY_TOO_LARGE", /max-request-size/);
    expect((await httpGet("huge")).status).toBe(204);
    // Just under the limit is fine.
    expect((await save([{ key: "big-ok", value: "y".repeat(MB - 100) }])).status).toBe(204);
    expect((await httpGet("big-ok")).status).toBe(200);
  });

  test("an unknown store is 404 ERR_STATE_STORE_NOT_FOUND naming the store, on every state route", async () => {
    const notFound = /state store nosuchstore is not found/;
    await expectDaprError(await post("/v1.0/state/nosuchstore", JSON.stringify([{ key: "a", value: 1 }])), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
    await expectDaprError(await sidecar.http("/v1.0/state/nosuchstore/a"), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
    await expectDaprError(await sidecar.http("/v1.0/state/nosuchstore/a", { method: "DELETE" }), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
    await expectDaprError(await post("/v1.0/state/nosuchstore/bulk", JSON.stringify({ keys: ["a"] })), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
    await expectDaprError(await post("/v1.0/state/nosuchstore/transaction", JSON.stringify({ operations: [] })), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
    await expectDaprError(await post("/v1.0-alpha1/state/nosuchstore/query", JSON.stringify({})), 404, "ERR_STATE_STORE_NOT_FOUND", notFound);
  });

  test("an etag mismatch is 409 naming the key, on save and on delete", async () => {
    expect((await save([{ key: "guarded", value: "v1" }])).status).toBe(204);
    const etag = (await httpGet("guarded")).headers.get("etag")!;
    expect(etag).toBeTruthy();
    await expectDaprError(await save([{ key: "guarded", value: "v2", etag: "stale" }]), 409, "ERR_STATE_SAVE", /etag mismatch for key "guarded"/);
    await expectDaprError(await sidecar.http("/v1.0/state/statestore/guarded", { method: "DELETE", headers: { "if-match": "stale" } }), 409, "ERR_STATE_DELETE", /etag mismatch for key "guarded"/);
    await expectDaprError(await save([{ key: "guarded", value: "v3", options: { concurrency: "first-write" } }]), 409, "ERR_STATE_SAVE", /"guarded"/);
    const still = await httpGet("guarded");
    expect(still.headers.get("etag")).toBe(etag);
    expect(await still.json()).toBe("v1");
  });

  test("a transaction with a bad operation is 400 and applies nothing", async () => {
    expect((await save([{ key: "tx-existing", value: "before" }])).status).toBe(204);
    const good = [
      { operation: "upsert", request: { key: "tx-new", value: "n" } },
      { operation: "upsert", request: { key: "tx-existing", value: "after" } },
      { operation: "delete", request: { key: "tx-existing" } },
    ];
    const bad: [unknown, RegExp][] = [
      [{ operation: "frobnicate", request: { key: "x" } }, /operations\[3\]\.operation must be "upsert" or "delete", got "frobnicate"/],
      [{ operation: "upsert", request: { key: "", value: 1 } }, /operations\[3\].*key must be a non-empty string/],
      [{ operation: "upsert", request: { key: "x" } }, /operations\[3\]\.request\.value is required/],
      [{ operation: "delete", request: null }, /operations\[3\]\.request must be an object/],
      [{ operation: "delete", request: { key: "x", etag: 7 } }, /operations\[3\]\.request\.etag must be a string/],
      [{ operation: "upsert", request: { key: "x", value: 1, options: { concurrency: "maybe" } } }, /operations\[3\].*concurrency.*"maybe"/],
      ["not an op", /operations\[3\] must be an object/],
    ];
    for (const [op, message] of bad) {
      await expectDaprError(await transact([...good, op]), 400, "ERR_MALFORMED_REQUEST", message);
    }
    await expectDaprError(await post("/v1.0/state/statestore/transaction", JSON.stringify({ ops: [] })), 400, "ERR_MALFORMED_REQUEST", /\{"operations": \[\.\.\.\]\}/);
    expect((await httpGet("tx-new")).status).toBe(204);
    expect(await (await httpGet("tx-existing")).json()).toBe("before");
  });

  test("a transaction whose last operation has a stale etag is 409 and applies nothing", async () => {
    await expectDaprError(await transact([
      { operation: "upsert", request: { key: "tx-new", value: "n" } },
      { operation: "delete", request: { key: "tx-existing" } },
      { operation: "upsert", request: { key: "tx-existing", value: "x", etag: "stale" } },
    ]), 409, "ERR_STATE_TRANSACTION", /etag mismatch for key "tx-existing"/);
    expect((await httpGet("tx-new")).status).toBe(204);
    expect(await (await httpGet("tx-existing")).json()).toBe("before");
  });

  test("50 parallel first-write saves of one new key: exactly one 204, the rest 409", async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      save([{ key: "race", value: i, options: { concurrency: "first-write" } }]).then(async (r) => ({ status: r.status, body: await r.text() }))));
    const won = results.filter((r) => r.status === 204);
    const lost = results.filter((r) => r.status === 409);
    expect(won.length).toBe(1);
    expect(lost.length).toBe(49);
    for (const l of lost) expect(JSON.parse(l.body).errorCode).toBe("ERR_STATE_SAVE");
    expect((await httpGet("race")).status).toBe(200);
  });

  test("an unknown route is a Dapr 404", async () => {
    await expectDaprError(await sidecar.http("/v1.0/stat/statestore/a"), 404, "ERR_NOT_FOUND", /no API route for GET \/v1.0\/stat\/statestore\/a/);
  });
});

describe("gRPC: the same mistakes map to gRPC status codes with a message naming the problem", () => {
  const store = "statestore";
  const item = (key: string, extra: Record<string, unknown> = {}) => ({ key, value: enc.encode('"v"'), ...extra });

  test("empty key, '||' key, bad ttlInSeconds, undefined enum values: InvalidArgument", async () => {
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => grpc.saveState({ storeName: store, states: [item("")] }), /key must be a non-empty string/],
      [() => grpc.saveState({ storeName: store, states: [item("a||b")] }), /can't contain '\|\|'/],
      [() => grpc.getState({ storeName: store, key: "" }), /key must be a non-empty string/],
      [() => grpc.getBulkState({ storeName: store, keys: ["ok", ""] }), /keys\[1\]/],
      [() => grpc.saveState({ storeName: store, states: [item("a", { metadata: { ttlInSeconds: "abc" } })] }), /ttlInSeconds.*"abc"/],
      [() => grpc.saveState({ storeName: store, states: [item("a", { options: { concurrency: 7 } })] }), /concurrency.*got "7"/],
      [() => grpc.getState({ storeName: store, key: "a", consistency: 9 as never }), /consistency.*got "9"/],
      [() => grpc.queryStateAlpha1({ storeName: store, query: "{not json" }), /query is not valid JSON/],
    ];
    for (const [call, message] of cases) {
      const err = await grpcError(call);
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(message);
    }
  });

  test("an error message quoting half of an emoji still reaches the client (it used to leave the call hanging)", async () => {
    const err = await grpcError(() => grpc.queryStateAlpha1({ storeName: store, query: "🔑" }, { timeoutMs: 10_000 }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/query is not valid JSON/);
  });

  test("unknown store is InvalidArgument with ERR_STATE_STORE_NOT_FOUND", async () => {
    const err = await grpcError(() => grpc.getState({ storeName: "nosuchstore", key: "a" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/state store nosuchstore is not found/);
    expect(err.metadata.get("dapr-error-code")).toBe("ERR_STATE_STORE_NOT_FOUND");
  });

  test("etag mismatch is Aborted", async () => {
    await grpc.saveState({ storeName: store, states: [item("g-guarded")] });
    const err = await grpcError(() => grpc.saveState({ storeName: store, states: [item("g-guarded", { etag: { value: "stale" } })] }));
    expect(err.code).toBe(Code.Aborted);
    expect(err.rawMessage).toMatch(/etag mismatch for key "g-guarded"/);
    const del = await grpcError(() => grpc.deleteState({ storeName: store, key: "g-guarded", etag: { value: "stale" } }));
    expect(del.code).toBe(Code.Aborted);
  });

  test("a transaction with a bad operation is InvalidArgument and applies nothing", async () => {
    const err = await grpcError(() => grpc.executeStateTransaction({
      storeName: store,
      operations: [
        { operationType: "upsert", request: item("g-tx-new") },
        { operationType: "explode", request: item("g-tx-other") },
      ],
    }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/operations\[1\]\.operationType must be "upsert" or "delete", got "explode"/);
    const missing = await grpcError(() => grpc.executeStateTransaction({ storeName: store, operations: [{ operationType: "upsert" }] }));
    expect(missing.rawMessage).toMatch(/operations\[0\]\.request is required/);
    expect((await grpc.getState({ storeName: store, key: "g-tx-new" })).data.length).toBe(0);
  });

  test("DeleteBulkState with one stale etag is Aborted and deletes nothing; without it deletes all", async () => {
    await grpc.saveState({ storeName: store, states: [item("g-del-1"), item("g-del-2")] });
    const err = await grpcError(() => grpc.deleteBulkState({
      storeName: store,
      states: [{ key: "g-del-1", value: new Uint8Array() }, { key: "g-del-2", value: new Uint8Array(), etag: { value: "stale" } }],
    }));
    expect(err.code).toBe(Code.Aborted);
    expect((await grpc.getBulkState({ storeName: store, keys: ["g-del-1", "g-del-2"] })).items.map((i) => i.data.length > 0)).toEqual([true, true]);
    await grpc.deleteBulkState({ storeName: store, states: [{ key: "g-del-1", value: new Uint8Array() }, { key: "g-del-2", value: new Uint8Array() }] });
    expect((await grpc.getBulkState({ storeName: store, keys: ["g-del-1", "g-del-2"] })).items.map((i) => i.data.length)).toEqual([0, 0]);
  });

  test("unicode keys round-trip", async () => {
    await grpc.saveState({ storeName: store, states: [item("ключ-🔑")] });
    expect(new TextDecoder().decode((await grpc.getState({ storeName: store, key: "ключ-🔑" })).data)).toBe('"v"');
  });

  test("a message over the size limit is ResourceExhausted", async () => {
    const err = await grpcError(() => grpc.saveState({ storeName: store, states: [{ key: "g-huge", value: new Uint8Array(2 * MB) }] }));
    expect(err.code).toBe(Code.ResourceExhausted);
  });
});

describe("nesting, publish metadata and key encoding over gRPC", () => {
  test("deeply nested JSON in PublishEvent, BulkPublishEvent and QueryStateAlpha1 is InvalidArgument naming the limit", async () => {
    const json = (text: string) => enc.encode(text);
    const cases: [() => Promise<unknown>, string][] = [
      [() => grpc.publishEvent({ pubsubName: "pubsub", topic: "deep", data: json(deep(300_000)), dataContentType: "application/json" }), "ERR_PUBSUB_CLOUD_EVENTS_SER"],
      [() => grpc.publishEvent({ pubsubName: "pubsub", topic: "deep", data: json(`{"id":"1","data":${deep(300_000)}}`), dataContentType: "application/cloudevents+json" }), "ERR_PUBSUB_CLOUD_EVENTS_SER"],
      [() => grpc.bulkPublishEventAlpha1({ pubsubName: "pubsub", topic: "deep", entries: [{ entryId: "1", event: json(deep(300_000)), contentType: "application/json" }] }), "ERR_PUBSUB_CLOUD_EVENTS_SER"],
      [() => grpc.bulkPublishEvent({ pubsubName: "pubsub", topic: "deep", entries: [{ entryId: "1", event: json(deep(MAX_JSON_DEPTH + 1)), contentType: "application/json" }] }), "ERR_PUBSUB_CLOUD_EVENTS_SER"],
      [() => grpc.queryStateAlpha1({ storeName: "statestore", query: `{"filter":${'{"AND":['.repeat(20_000)}{}${"]}".repeat(20_000)}}` }), "ERR_MALFORMED_REQUEST"],
    ];
    for (const [call, code] of cases) {
      const err = await grpcError(call);
      expect({ code: err.code, message: err.rawMessage }).toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/nested deeper than 1000 levels/) });
      expect(err.metadata.get("dapr-error-code") ?? code).toBe(code);
    }
  });

  test("metadata.ttlInSeconds that is not an integer is InvalidArgument on PublishEvent and BulkPublishEvent, as on SaveState", async () => {
    for (const ttl of ["abc", "1.5", "-1", "1e3", "99999999999999"]) {
      const one = await grpcError(() => grpc.publishEvent({ pubsubName: "pubsub", topic: "ttl", data: enc.encode("{}"), dataContentType: "application/json", metadata: { ttlInSeconds: ttl } }));
      expect({ ttl, code: one.code, message: one.rawMessage }).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining(`metadata.ttlInSeconds must be an integer from 0 to 2147483647, got ${JSON.stringify(ttl)}`) });
      const bulk = await grpcError(() => grpc.bulkPublishEvent({ pubsubName: "pubsub", topic: "ttl", entries: [{ entryId: "1", event: enc.encode("{}"), contentType: "application/json", metadata: { ttlInSeconds: ttl } }] }));
      expect(bulk.code).toBe(Code.InvalidArgument);
      const bulkRequestLevel = await grpcError(() => grpc.bulkPublishEvent({ pubsubName: "pubsub", topic: "ttl", metadata: { ttlInSeconds: ttl }, entries: [{ entryId: "1", event: enc.encode("{}"), contentType: "application/json" }] }));
      expect(bulkRequestLevel.code).toBe(Code.InvalidArgument);
    }
    await grpc.publishEvent({ pubsubName: "pubsub", topic: "ttl", data: enc.encode("{}"), dataContentType: "application/json", metadata: { ttlInSeconds: "60" } });
  });
});

describe("publish metadata and entries are checked by type and value (HTTP)", () => {
  const bulk = (entries: unknown, query = "") => post(`/v1.0-alpha1/publish/bulk/pubsub/checked${query}`, JSON.stringify(entries));
  const publish = (query: string) => post(`/v1.0/publish/pubsub/checked${query}`, "{}");

  test("metadata.ttlInSeconds on publish and bulk publish must be an integer, as on state", async () => {
    for (const ttl of ["abc", "1.5", "-1", " 5", "0x10", "99999999999999"]) {
      const q = `?metadata.ttlInSeconds=${encodeURIComponent(ttl)}`;
      await expectDaprError(await publish(q), 400, "ERR_MALFORMED_REQUEST", new RegExp(`metadata\\.ttlInSeconds must be an integer from 0 to 2147483647, got ${JSON.stringify(ttl).replace(/[.+]/g, "\\$&")}`));
      await expectDaprError(await bulk([{ entryId: "1", event: {} }], q), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds must be an integer/);
      await expectDaprError(await bulk([{ entryId: "1", event: {}, metadata: { ttlInSeconds: ttl } }]), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds must be an integer/);
      await expectDaprError(await post(`/v1.0/publish/pubsub/checked${q}&metadata.rawPayload=true`, "x"), 400, "ERR_MALFORMED_REQUEST", /ttlInSeconds/);
    }
    expect((await publish("?metadata.ttlInSeconds=60")).status).toBe(204);
    expect((await publish("?metadata.ttlInSeconds=0")).status).toBe(204);
    expect((await bulk([{ entryId: "1", event: {}, metadata: { ttlInSeconds: "60" } }])).status).toBe(204);
  });

  test("bulk publish entries: entryId, contentType and metadata values must be strings, not turned into text", async () => {
    await expectDaprError(await bulk([{ entryId: { x: 1 }, event: 1 }]), 400, "ERR_PUBSUB_EVENTS_SER", /entries\[0\]: "entryId" must be a string, got an object/);
    await expectDaprError(await bulk([{ entryId: "a", event: 1 }, { entryId: 7, event: 1 }]), 400, "ERR_PUBSUB_EVENTS_SER", /entries\[1\]: "entryId" must be a string, got a number/);
    await expectDaprError(await bulk([{ entryId: "a", event: 1, contentType: ["x"] }]), 400, "ERR_PUBSUB_EVENTS_SER", /"contentType" must be a string, got an array/);
    await expectDaprError(await bulk([{ entryId: "a", event: 1, metadata: { ttlInSeconds: { x: 1 } } }]), 400, "ERR_PUBSUB_EVENTS_SER", /"metadata\.ttlInSeconds" must be a string, got an object/);
    await expectDaprError(await bulk([{ entryId: "a", event: 1, metadata: { tag: 5 } }]), 400, "ERR_PUBSUB_EVENTS_SER", /"metadata\.tag" must be a string, got a number/);
    await expectDaprError(await bulk([{ entryId: "a", event: 1, metadata: "ttl" }]), 400, "ERR_PUBSUB_EVENTS_SER", /"metadata" must be an object of strings, got a string/);
    await expectDaprError(await bulk([[{ entryId: "a", event: 1 }]]), 400, "ERR_PUBSUB_EVENTS_SER", /entries\[0\] must be an object/);
    await expectDaprError(await post("/v1.0-alpha1/publish/bulk/pubsub/checked", "[{"), 400, "ERR_PUBSUB_EVENTS_SER", /failed to parse request body as JSON/);
  });

  test("state item metadata values must be strings too (they were turned into JSON text)", async () => {
    await expectDaprError(await save([{ key: "md", value: 1, metadata: { ttlInSeconds: { x: 1 } } }]), 400, "ERR_MALFORMED_REQUEST", /\[0\]: "metadata\.ttlInSeconds" must be a string, got an object/);
    await expectDaprError(await save([{ key: "md", value: 1, metadata: { ttlInSeconds: 60 } }]), 400, "ERR_MALFORMED_REQUEST", /"metadata\.ttlInSeconds" must be a string, got a number/);
    expect((await httpGet("md")).status).toBe(204);
  });
});

describe("keys and metadata that are not valid Unicode (a lone UTF-16 surrogate) are refused, so they cannot collide", () => {
  const lone = "sur\ud800";
  const replaced = "sur\ufffd";
  const badKey = /is not valid Unicode: it holds a lone UTF-16 surrogate/;

  test("HTTP save, bulk get, transaction and bulk publish metadata refuse them; the key they would have become stays apart", async () => {
    expect((await save([{ key: replaced, value: "replacement character" }])).status).toBe(204);
    await expectDaprError(await save([{ key: lone, value: "lone surrogate" }]), 400, "ERR_MALFORMED_REQUEST", /key "sur\\ud800" is not valid Unicode/);
    await expectDaprError(await save([{ key: "ok", value: 1 }, { key: "\udc00x", value: 1 }]), 400, "ERR_MALFORMED_REQUEST", /\[1\]\.key .*not valid Unicode/);
    await expectDaprError(await post("/v1.0/state/statestore/bulk", JSON.stringify({ keys: [replaced, lone] })), 400, "ERR_MALFORMED_REQUEST", /keys\[1\] .*not valid Unicode/);
    await expectDaprError(await transact([{ operation: "delete", request: { key: lone } }]), 400, "ERR_MALFORMED_REQUEST", badKey);
    await expectDaprError(await transact([{ operation: "upsert", request: { key: lone, value: 2 } }]), 400, "ERR_MALFORMED_REQUEST", badKey);
    expect(await (await httpGet(replaced)).json()).toBe("replacement character");
    expect((await httpGet("ok")).status).toBe(204);
    await expectDaprError(await save([{ key: "md", value: 1, metadata: { contentType: `text/${lone}` } }]), 400, "ERR_MALFORMED_REQUEST", badKey);
    await expectDaprError(await post("/v1.0-alpha1/publish/bulk/pubsub/checked", JSON.stringify([{ entryId: "1", event: 1, metadata: { [lone]: "x" } }])), 400, "ERR_PUBSUB_EVENTS_SER", /metadata name "sur\\ud800" is not valid Unicode/);
    await expectDaprError(await post("/v1.0/bindings/files", JSON.stringify({ operation: "create", data: 1, metadata: { fileName: lone } })), 400, "ERR_MALFORMED_REQUEST", /"metadata\.fileName" "sur\\ud800" is not valid Unicode/);
  });

  test("gRPC over Connect JSON (the only gRPC encoding that can carry one) refuses them too", async () => {
    const connect = (method: string, body: string) => fetch(`http://127.0.0.1:${sidecar.grpcPort}/dapr.proto.runtime.v1.Dapr/${method}`, { method: "POST", body, headers: { "content-type": "application/json" } });
    for (const [method, body] of [
      ["SaveState", `{"storeName":"statestore","states":[{"key":"sur\\ud800","value":"MQ=="}]}`],
      ["GetState", `{"storeName":"statestore","key":"sur\\ud800"}`],
      ["GetBulkState", `{"storeName":"statestore","keys":["sur\\ud800"]}`],
      ["DeleteState", `{"storeName":"statestore","key":"sur\\ud800"}`],
      ["ExecuteStateTransaction", `{"storeName":"statestore","operations":[{"operationType":"upsert","request":{"key":"sur\\ud800","value":"MQ=="}}]}`],
    ]) {
      const res = await connect(method, body);
      expect({ method, status: res.status, code: ((await res.json()) as { code?: string }).code }).toEqual({ method, status: 400, code: "invalid_argument" });
    }
    expect(await (await httpGet(replaced)).json()).toBe("replacement character");
  });
});

test("after all of that the sidecar is still up, healthy and serving", async () => {
  expect(sidecar.proc.exitCode).toBeNull();
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
  expect((await save([{ key: "alive", value: { ok: true } }])).status).toBe(204);
  expect(await (await httpGet("alive")).json()).toEqual({ ok: true });
  expect(new TextDecoder().decode((await grpc.getState({ storeName: "statestore", key: "alive" })).data)).toBe('{"ok":true}');
});
