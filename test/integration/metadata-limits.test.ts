// The extended metadata an app sets is bounded (key size, value size, number of keys, total size) over HTTP and
// gRPC: past a bound the call is a 400 / INVALID_ARGUMENT and changes nothing. Against the compiled binary.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { EXTENDED_METADATA_LIMITS as LIMITS } from "../../src/blocks/metadata/extended-attributes.js";
import { grpcError } from "../support/grpc-error.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

/** A response body as loosely typed JSON, for assertions. */
const jsonOf = (r: Response): Promise<any> => r.json();

let sidecar: Sidecar;
let grpc: Client<typeof Dapr>;

beforeAll(async () => {
  sidecar = await startSidecar();
  grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
});
afterAll(async () => {
  await sidecar?.stop();
});

const put = (key: string, value: string) => sidecar.http(`/v1.0/metadata/${encodeURIComponent(key)}`, { method: "PUT", body: value });
const extended = async (): Promise<Record<string, string>> => (await jsonOf(await sidecar.http("/v1.0/metadata"))).extended;

async function expectRefused(res: Response, message: RegExp) {
  expect(res.status).toBe(400);
  const body = await jsonOf(res);
  expect(body.errorCode).toBe("ERR_MALFORMED_REQUEST");
  expect(body.message).toMatch(message);
}

test("a key or a value over its bound is 400 naming the bound, over HTTP and gRPC; at the bound it is stored", async () => {
  await expectRefused(await put("k".repeat(LIMITS.keyBytes + 1), "v"), /key must be at most 256 bytes/);
  await expectRefused(await put("big", "v".repeat(LIMITS.valueBytes + 1)), /at most 65536 bytes/);
  // Bytes, not characters: 3 bytes each.
  await expectRefused(await put("wide", "€".repeat(LIMITS.valueBytes / 3 + 1)), /at most 65536 bytes/);
  expect((await put("k".repeat(LIMITS.keyBytes), "v")).status).toBe(204);
  expect((await put("big", "v".repeat(LIMITS.valueBytes))).status).toBe(204);
  const err = await grpcError(() => grpc.setMetadata({ key: "big", value: "v".repeat(LIMITS.valueBytes + 1) }));
  expect(err.code).toBe(Code.InvalidArgument);
  expect(err.rawMessage).toMatch(/at most 65536 bytes/);
  const now = await extended();
  expect(now.big).toBe("v".repeat(LIMITS.valueBytes));
  expect(now.wide).toBeUndefined();
});

test("1,000 values of 65 KB stop at the total bound; metadata stays under it and an existing key can still change", async () => {
  const value = "x".repeat(65_000);
  let refused: Response | undefined;
  let stored = 0;
  for (let i = 0; i < 1000 && !refused; i++) {
    const res = await put(`bulk${i}`, value);
    if (res.status === 204) stored++;
    else refused = res;
  }
  expect(refused).toBeDefined();
  await expectRefused(refused!, /over the 1048576 allowed/);
  expect(stored).toBeLessThan(LIMITS.totalBytes / 65_000);
  // gRPC is held to the same total.
  expect((await grpcError(() => grpc.setMetadata({ key: "grpc-big", value }))).code).toBe(Code.InvalidArgument);
  const answer = await (await sidecar.http("/v1.0/metadata")).text();
  expect(answer.length).toBeLessThan(LIMITS.totalBytes + 64 * 1024);
  // Replacing a value with a smaller one frees room; the refused key was not half-applied.
  expect((await put("bulk0", "small")).status).toBe(204);
  const now = await extended();
  expect(now.bulk0).toBe("small");
  expect(now[`bulk${stored}`]).toBeUndefined();
});

test("the number of keys is bounded; setting an existing key stays possible at the bound; an empty gRPC key is ignored as in daprd", async () => {
  let refused: Response | undefined;
  for (let i = 0; i < 2 * LIMITS.keys && !refused; i++) {
    const res = await put(`n${i}`, "1");
    if (res.status !== 204) refused = res;
  }
  expect(refused).toBeDefined();
  await expectRefused(refused!, /most keys allowed \(128\)/);
  expect((await grpcError(() => grpc.setMetadata({ key: "one-more", value: "1" }))).code).toBe(Code.InvalidArgument);
  expect((await put("n0", "2")).status).toBe(204);
  await grpc.setMetadata({ key: "", value: "ignored" });
  const now = await extended();
  expect(now.n0).toBe("2");
  expect(now[""]).toBeUndefined();
  expect(now["one-more"]).toBeUndefined();
  // The sidecar's own attributes are still there, and other blocks' attributes come on top of the bound.
  expect(now.daprRuntimeVersion).toBeDefined();
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
});
