// The API surface outside state: Connect and gRPC-Web for browsers on the gRPC port, CORS, metrics, secrets
// (and secretKeyRef in component YAML), the API token, metadata and shutdown — all against the compiled binary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
/** A response body as loosely typed JSON, for assertions. */
const jsonOf = (r: Response): Promise<any> => r.json();

describe("one sidecar with components from YAML", () => {
  let dir: string;
  let sidecar: Sidecar;
  let metricsPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rapr-api-"));
    writeFileSync(join(dir, "secrets.json"), JSON.stringify({ db: { password: "s3cr3t" }, dbfile: join(dir, "from-secret.sqlite") }));
    writeFileSync(join(dir, "components.yaml"), `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: localsecrets
spec:
  type: secretstores.local.file
  version: v1
  metadata:
    - name: secretsFile
      value: ${join(dir, "secrets.json")}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: cache
spec:
  type: state.sqlite
  version: v1
  metadata:
    - name: connectionString
      secretKeyRef:
        name: dbfile
auth:
  secretStore: localsecrets
`);
    metricsPort = await freePort();
    sidecar = await startSidecar({
      args: ["--resources-path", dir, "--metrics-port", String(metricsPort), "--allowed-origins", "http://app.example"],
    });
  }, 30_000);

  afterAll(async () => {
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("secrets come back over HTTP, one and in bulk, with nested names flattened", async () => {
    const one = await sidecar.http("/v1.0/secrets/localsecrets/db:password");
    expect(one.status).toBe(200);
    expect(await jsonOf(one)).toEqual({ "db:password": "s3cr3t" });
    const all = await jsonOf(await sidecar.http("/v1.0/secrets/localsecrets/bulk"));
    expect(all).toEqual({ "db:password": { "db:password": "s3cr3t" }, dbfile: { dbfile: join(dir, "from-secret.sqlite") } });
  });

  test("a missing secret and an unknown secret store are Dapr errors", async () => {
    const missing = await sidecar.http("/v1.0/secrets/localsecrets/nope");
    expect(missing.status).toBe(500);
    expect((await jsonOf(missing)).errorCode).toBe("ERR_SECRET_GET");
    const unknown = await sidecar.http("/v1.0/secrets/elsewhere/x");
    expect(unknown.status).toBe(401);
    expect(await jsonOf(unknown)).toMatchObject({ errorCode: "ERR_SECRET_STORE_NOT_FOUND" });
  });

  test("a component's secretKeyRef is resolved from its auth.secretStore", async () => {
    const save = await sidecar.http("/v1.0/state/cache", { method: "POST", body: JSON.stringify([{ key: "k", value: 1 }]) });
    expect(save.status).toBe(204);
    expect(existsSync(join(dir, "from-secret.sqlite"))).toBe(true);
    const meta = await jsonOf(await sidecar.http("/v1.0/metadata"));
    expect(meta.components.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining(["cache", "localsecrets"]));
  });

  test("gRPC, gRPC-Web and Connect all reach the Dapr service on the gRPC port", async () => {
    const baseUrl = `http://127.0.0.1:${sidecar.grpcPort}`;
    const transports = {
      grpc: createGrpcTransport({ baseUrl }),
      grpcWeb: createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
      connect: createConnectTransport({ baseUrl, httpVersion: "1.1" }),
    };
    for (const [name, transport] of Object.entries(transports)) {
      const client = createClient(Dapr, transport);
      await client.saveState({ storeName: "cache", states: [{ key: name, value: encode(`via ${name}`) }] });
      const got = await client.getState({ storeName: "cache", key: name });
      expect(decode(got.data)).toBe(`via ${name}`);
      const meta = await client.getMetadata({});
      expect(meta.id).toBe(sidecar.appId);
    }
  });

  test("concurrent Connect and gRPC-Web calls over HTTP/2 with empty replies all succeed (no session teardown)", async () => {
    const baseUrl = `http://127.0.0.1:${sidecar.grpcPort}`;
    for (const transport of [createConnectTransport({ baseUrl, httpVersion: "2" }), createGrpcWebTransport({ baseUrl, httpVersion: "2" })]) {
      const client = createClient(Dapr, transport);
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, (_, worker) => (async () => {
          for (let i = 0; i < 20; i++) await client.saveState({ storeName: "cache", states: [{ key: `w${worker}`, value: encode(String(i)) }] });
        })()),
      );
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    }
  });

  test("a browser's preflight to the gRPC port is answered for an allowed origin only", async () => {
    const url = `http://127.0.0.1:${sidecar.grpcPort}/dapr.proto.runtime.v1.Dapr/GetMetadata`;
    const preflight = (origin: string) =>
      fetch(url, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    const allowed = await preflight("http://app.example");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const denied = await preflight("http://evil.example");
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });

  test("the HTTP port answers CORS for allowed origins, on hot routes and errors too, and leaves clients without Origin alone", async () => {
    const preflight = await sidecar.http("/v1.0/publish/pubsub/t", { method: "OPTIONS", headers: { origin: "http://app.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const fromPage = await sidecar.http("/v1.0/invoke/nobody/method/x", { headers: { origin: "http://app.example" } });
    expect(fromPage.status).toBe(500);
    expect(fromPage.headers.get("access-control-allow-origin")).toBe("http://app.example");
    const fromOther = await sidecar.http("/v1.0/state/cache/k", { headers: { origin: "http://evil.example" } });
    expect(fromOther.headers.get("access-control-allow-origin")).toBeNull();
    const noOrigin = await sidecar.http("/v1.0/state/cache/k");
    expect(noOrigin.headers.get("access-control-allow-origin")).toBeNull();
    expect(noOrigin.headers.get("vary")).toBe("origin");
  });

  test("Prometheus metrics count API calls by path and gRPC method", async () => {
    await sidecar.http("/v1.0/state/cache/k");
    const text = await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return t.includes('path="/v1.0/state/cache"') && t.includes("grpc_server_method=\"/dapr.proto.runtime.v1.Dapr/GetState\"") ? t : undefined;
    }, "metrics to show the calls");
    expect(text).toContain('method="GET",path="/v1.0/state/cache",status='); // keys never become labels
    expect(text).not.toContain("/v1.0/state/cache/k");
    const loaded = (await jsonOf(await sidecar.http("/v1.0/metadata"))).components.length;
    expect(text).toContain(`dapr_runtime_component_loaded{app_id="${sidecar.appId}"} ${loaded}`);
  });

  test("PUT /v1.0/metadata/{key} shows up in extended metadata over HTTP and gRPC", async () => {
    expect((await sidecar.http("/v1.0/metadata/team", { method: "PUT", body: "payments" })).status).toBe(204);
    const http = await jsonOf(await sidecar.http("/v1.0/metadata"));
    expect(http.extended.team).toBe("payments");
    const grpc = await createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` })).getMetadata({});
    expect(grpc.extendedMetadata.team).toBe("payments");
  });
});

describe("DAPR_API_TOKEN", () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar({ env: { DAPR_API_TOKEN: "let-me-in" } });
  }, 30_000);
  afterAll(async () => {
    await sidecar?.stop();
  });

  test("calls without the token are refused over HTTP and gRPC; health checks stay open", async () => {
    const refused = await sidecar.http("/v1.0/metadata");
    expect(refused.status).toBe(401);
    expect((await jsonOf(refused)).errorCode).toBe("ERR_API_UNAUTHORIZED");
    expect((await sidecar.http("/v1.0/healthz")).status).toBe(204);
    const ok = await sidecar.http("/v1.0/metadata", { headers: { "dapr-api-token": "let-me-in" } });
    expect(ok.status).toBe(200);

    const baseUrl = `http://127.0.0.1:${sidecar.grpcPort}`;
    const anonymous = createClient(Dapr, createGrpcTransport({ baseUrl }));
    await expect(anonymous.getMetadata({})).rejects.toThrow(/dapr-api-token/);
    const authed = createClient(Dapr, createGrpcTransport({
      baseUrl,
      interceptors: [(next) => (req) => (req.header.set("dapr-api-token", "let-me-in"), next(req))],
    }));
    expect((await authed.getMetadata({})).id).toBe(sidecar.appId);
  });
});

test("POST /v1.0/shutdown stops the sidecar with exit code 0", async () => {
  const sidecar = await startSidecar();
  expect((await sidecar.http("/v1.0/shutdown", { method: "POST" })).status).toBe(204);
  expect(await sidecar.proc.exited).toBe(0);
});

test("--dapr-grpc-http1=false serves gRPC, Connect and gRPC-Web over HTTP/2 only", async () => {
  const sidecar = await startSidecar({ args: ["--dapr-grpc-http1=false"] });
  try {
    const baseUrl = `http://127.0.0.1:${sidecar.grpcPort}`;
    for (const transport of [createGrpcTransport({ baseUrl }), createConnectTransport({ baseUrl, httpVersion: "2" }), createGrpcWebTransport({ baseUrl, httpVersion: "2" })]) {
      expect((await createClient(Dapr, transport).getMetadata({})).id).toBe(sidecar.appId);
    }
    const http1 = createClient(Dapr, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
    await expect(http1.getMetadata({}, { timeoutMs: 3000 })).rejects.toThrow();
  } finally {
    await sidecar.stop();
  }
});
