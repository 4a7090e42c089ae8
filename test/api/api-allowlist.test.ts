// Configuration spec.api (daprd's API allowlist / denylist) through the compiled binary: the endpoint table decides
// which HTTP routes exist and which gRPC methods answer, per protocol; denied wins over allowed; health stays open.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { apiServed, parseApiAccess } from "../../src/api/api-access.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

const CONFIG = `apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: allowlist
spec:
  api:
    allowed:
      - name: state
        version: v1.0
        protocol: http
      - name: publish
        version: v1.0
        protocol: http
      - name: state
        version: v1
        protocol: grpc
    denied:
      - name: publish
        version: v1.0
        protocol: http
`;

async function grpcCode(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("spec.api allow and deny lists", () => {
  let dir: string;
  let sidecar: Sidecar;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rapr-allowlist-"));
    writeFileSync(join(dir, "config.yaml"), CONFIG);
    sidecar = await startSidecar({ args: ["--config", join(dir, "config.yaml")] });
  }, 30_000);

  afterAll(async () => {
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("HTTP: only allowed groups are routed; denied beats allowed; health is always served", async () => {
    expect((await sidecar.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "k", value: 1 }]) })).status).toBe(204);
    expect(await (await sidecar.http("/v1.0/state/statestore/k")).json()).toBe(1);
    const publish = await sidecar.http("/v1.0/publish/pubsub/orders", { method: "POST", body: "{}" });
    expect(publish.status).toBe(404);
    expect(((await publish.json()) as { errorCode: string }).errorCode).toBe("ERR_NOT_FOUND");
    expect((await sidecar.http("/v1.0/metadata")).status).toBe(404);
    expect((await sidecar.http("/v1.0-alpha1/state/statestore/query", { method: "POST", body: "{}" })).status).toBe(404);
    // the hot form goes with its endpoint: a dapr-app-id header no longer invokes
    expect((await sidecar.http("/anything", { headers: { "dapr-app-id": "other" } })).status).toBe(404);
    expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
  });

  test("gRPC: methods outside the allowed groups answer PermissionDenied", async () => {
    const client = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
    expect(await grpcCode(client.getState({ storeName: "statestore", key: "k" }))).toBe("ok");
    expect(await grpcCode(client.getMetadata({}))).toBe(Code.PermissionDenied);
    expect(await grpcCode(client.publishEvent({ pubsubName: "pubsub", topic: "orders", data: new Uint8Array() }))).toBe(Code.PermissionDenied);
    expect(await grpcCode(client.queryStateAlpha1({ storeName: "statestore", query: "{}" }))).toBe(Code.PermissionDenied);
  });
});

describe("spec.api rules", () => {
  test("protocol defaults to http; a list for one protocol leaves the other open", () => {
    const rules = parseApiAccess({ allowed: [{ name: "state", version: "v1.0" }] }, "test");
    expect(apiServed(rules, "http", "state", "v1.0")).toBe(true);
    expect(apiServed(rules, "http", "invoke", "v1.0")).toBe(false);
    expect(apiServed(rules, "grpc", "invoke", "v1")).toBe(true);
    expect(apiServed(undefined, "http", "invoke", "v1.0")).toBe(true);
  });

  test("a malformed section is an error naming the field", () => {
    expect(() => parseApiAccess({ allowed: [{ name: "state" }] }, "c.yaml")).toThrow("c.yaml: spec.api.allowed[0].version");
    expect(() => parseApiAccess({ denied: [{ name: "state", version: "v1", protocol: "udp" }] }, "c.yaml")).toThrow("protocol must be http or grpc");
    expect(() => parseApiAccess([], "c.yaml")).toThrow("spec.api must be an object");
  });
});
