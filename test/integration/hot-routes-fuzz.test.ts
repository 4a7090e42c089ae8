// Seeded random requests against the routes answered ahead of the Elysia router (invocation in its three forms,
// publish) on the compiled rapr: odd path segments, bad percent-encoding, odd app-id headers and Basic credentials,
// random verbs, content types and bodies. Each answer is a success or a Dapr error ({errorCode, message}) that is
// not ERR_INTERNAL, and the sidecar stays healthy. A failure prints the seed and the request. Encoded and
// dot-segment methods go over gRPC InvokeService too: refused exactly when the one normalisation refuses them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { normalizeOperation } from "../../src/security/operation.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { fuzzRandom } from "../support/fuzz.js";

const { seed: SEED, rand, pick } = fuzzRandom(20261124);
const CASES = 300;

let sidecar: Sidecar;
beforeAll(async () => {
  sidecar = await startSidecar();
});
afterAll(async () => {
  await sidecar?.stop();
});

const SEGMENTS = ["", "a", "pubsub", "orders", "%ZZ", "%E0%A4%A", "%2F", "a%2Fb", "..", ".", "method", "ключ", "%F0%9F%94%91",
  "x".repeat(300), "a b", "%00", "app.ns", "app..ns", "*",
  // encoded and dot-segment spellings of methods (the access control normalisation)
  "%61dmin", "adm%69n", "ADMIN", "%2e%2e", "%2E", "x%2F..%2Fy", "%2f", "%3F", "%23", "%0d%0a", "%7e%5F", "%25", "%2561"] as const;
const PATHS = [
  () => `/v1.0/invoke/${pick(SEGMENTS)}/method/${pick(SEGMENTS)}/${pick(SEGMENTS)}`,
  () => `/v1.0/invoke/${pick(SEGMENTS)}/${pick(SEGMENTS)}`,
  () => `/v1.0/invoke//method/`,
  () => `/v1.0/publish/${pick(SEGMENTS)}/${pick(SEGMENTS)}`,
  () => `/v1.0/publish/pubsub/${pick(SEGMENTS)}`,
  () => `/v1.0/publish/pubsub/${pick(SEGMENTS)}`,
  () => `/v1.0/publish/pubsub/${pick(SEGMENTS)}/${pick(SEGMENTS)}?metadata.rawPayload=${pick(["true", "false", "%ZZ"])}`,
  () => `/v1.0/publish/${pick(SEGMENTS)}`,
  () => `/${pick(SEGMENTS)}/${pick(SEGMENTS)}`,
] as const;
const CONTENT_TYPES = ["application/json", "application/cloudevents+json", "text/plain", "application/octet-stream", "", "application/json; charset=utf-8", "x/y+json"] as const;
const BODIES = ["", "{", "{}", "[]", "null", "\"s\"", "{\"specversion\":\"2.0\"}", "{\"id\":1}", "{\"data\":1,\"data_base64\":\"AA==\"}", "🔑", "\u0000"] as const;

function headers(): Record<string, string> {
  const h: Record<string, string> = {};
  const ct = pick(CONTENT_TYPES);
  if (ct) h["content-type"] = ct;
  const r = rand();
  if (r < 0.2) h["dapr-app-id"] = pick(["", "nobody", "a.b.c", "%ZZ", "x".repeat(200)]);
  else if (r < 0.3) h.authorization = pick(["Basic", "Basic !!!", `Basic ${btoa("dapr-app-id:")}`, `Basic ${btoa("dapr-app-id:nobody")}`, `Basic ${btoa("user:pw")}`, "Bearer x"]);
  if (rand() < 0.2) h.traceparent = pick(["", "garbage", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-00000000000000000000000000000000-0000000000000000-00"]);
  return h;
}

test(`${CASES} random invocation and publish requests (seed ${SEED}) get a success or a Dapr error, never an unhandled one`, async () => {
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const path = pick(PATHS)();
    const method = pick(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"] as const);
    const h = headers();
    const body = method === "GET" || method === "HEAD" ? undefined : pick(BODIES);
    const sent = `${method} ${path} ${JSON.stringify(h)} ${JSON.stringify(body)}`;
    let res: Response;
    try {
      res = await sidecar.http(path, { method, headers: h, body });
    } catch (err) {
      failures.push(`#${i} ${sent}: no answer (${(err as Error).message})`);
      continue;
    }
    const text = await res.text();
    if (res.status < 400 || method === "HEAD") continue;
    let parsed: { errorCode?: unknown; message?: unknown } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: reported below
    }
    if (typeof parsed.errorCode !== "string" || typeof parsed.message !== "string" || parsed.errorCode === "ERR_INTERNAL") {
      failures.push(`#${i} ${sent}: ${res.status} ${text.slice(0, 200)}`);
    }
  }
  expect(failures).toEqual([]);
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
});

test(`${CASES} random InvokeService methods (seed ${SEED}): refused (INVALID_ARGUMENT) exactly when normalizeOperation refuses them`, async () => {
  const grpc = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
  const PIECES = [...SEGMENTS, "/", "//", "./", "../", "?", "#", "\r\n", "\u0000", "\\", "%", "%4", "ключ"] as const;
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const method = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(PIECES)).join(pick(["/", "", "/./", "/../"]));
    let refusable = false;
    try {
      normalizeOperation(method);
    } catch {
      refusable = true;
    }
    try {
      await grpc.invokeService({ id: sidecar.appId, message: { method, data: create(AnySchema, { value: new Uint8Array() }) } });
      failures.push(`#${i} ${JSON.stringify(method)}: succeeded without an app`);
    } catch (err) {
      const ce = ConnectError.from(err);
      // Without an app, a method that normalises reaches the app channel, which is not there.
      const ok = refusable ? ce.code === Code.InvalidArgument : ce.code === Code.Internal && ce.rawMessage.includes("app channel");
      if (!ok) failures.push(`#${i} ${JSON.stringify(method)} (refusable: ${refusable}): ${Code[ce.code]} ${ce.rawMessage.slice(0, 160)}`);
    }
  }
  expect(failures).toEqual([]);
  expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
});
