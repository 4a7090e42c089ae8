// Service invocation through two compiled sidecars with mTLS on (the default): the Dapr JS SDK's
// DaprClient.invoker as caller, a DaprServer HTTP app and a native gRPC app as callees, gRPC proxying,
// pass-through of verbs, query, headers, bodies and statuses, tracing headers, and the failure modes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { InvokeServiceRequestSchema } from "../../src/gen/dapr/proto/runtime/v1/invoke_pb.js";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from "@dapr/dapr";
import { waitFor } from "../support/ports.js";
import type { Sidecar } from "../support/sidecar.js";
import { newCluster, uid, waitForApp, type Cluster } from "../invoke/support.js";

const quiet = () => {};
const logger = { level: 0, service: { error: quiet, warn: quiet, info: quiet, verbose: quiet, debug: quiet } } as never;

let cluster: Cluster;
let caller: Sidecar;
let echo: Sidecar & { appPort?: number };
let callerApp: Sidecar & { appPort?: number };
const ids = { callerApp: `capp-${uid()}`, caller: `caller-${uid()}`, server: `dserver-${uid()}`, echo: `echo-${uid()}`, grpc: `grpcapp-${uid()}` };

beforeAll(async () => {
  cluster = newCluster("invoke");
  // The DaprServer and gRPC apps are reached through their sidecars only; stopAll stops them.
  [caller, , echo, , callerApp] = await Promise.all([
    cluster.start({ appId: ids.caller, args: ["--dapr-http-max-request-size", "1"] }),
    cluster.start({ appId: ids.server, app: "invoke-dapr-server.ts" }),
    cluster.start({ appId: ids.echo, app: "invoke-echo-app.ts", env: { APP_API_TOKEN: "app-secret" } }),
    cluster.start({ appId: ids.grpc, app: "invoke-grpc-app.ts", appProtocol: "grpc", env: { APP_API_TOKEN: "grpc-app-secret" } }),
    cluster.start({ appId: ids.callerApp, app: "invoke-caller-app.ts" }),
  ]);
  await Promise.all([
    waitForApp(caller, ids.server, "whoami"),
    waitForApp(caller, ids.echo, "ready"),
    waitForApp(caller, ids.grpc, "ready", { method: "POST", body: "{}" }),
  ]);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describe("DaprClient.invoker → sidecar → sidecar (mTLS) → DaprServer app", () => {
  test.each(["http", "grpc"])("app A (launched by rapr) uses DaprClient.invoker over %s to reach app B, a DaprServer", async (protocol) => {
    const r = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${callerApp.appPort}/call/${ids.server}?protocol=${protocol}`);
      return res.status === 200 ? ((await res.json()) as any) : undefined;
    }, `app A to call app B over ${protocol}`, 15_000, 100);
    expect(r.ok).toBe(true);
    expect(r.result.greeting).toBe(`hello from ${ids.server}`);
    expect(r.result.got).toEqual({ from: ids.callerApp });
    expect(r.result.caller).toBe(ids.callerApp);
  });

  test("over HTTP: the callee's answer comes back, and the callee sees the caller's verified app id", async () => {
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(caller.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger });
    const res = (await client.invoker.invoke(ids.server, "hello", HttpMethod.POST, { n: 1 })) as Record<string, unknown>;
    expect(res.greeting).toBe(`hello from ${ids.server}`);
    expect(res.got).toEqual({ n: 1 });
    expect(res.caller).toBe(ids.caller);
  });

  test("gRPC InvokeService to an HTTP app: the app's headers come back as response metadata", async () => {
    const client = new grpc.Client(`127.0.0.1:${caller.grpcPort}`, grpc.credentials.createInsecure());
    const req = toBinary(InvokeServiceRequestSchema, create(InvokeServiceRequestSchema, { id: ids.echo, message: { method: "status/201", httpExtension: { verb: 2 } } }));
    const headers = await new Promise<grpc.Metadata>((resolve, reject) => {
      const c = client.makeUnaryRequest("/dapr.proto.runtime.v1.Dapr/InvokeService", (b: Buffer) => b, (b: Buffer) => b, Buffer.from(req), new grpc.Metadata(), (err) => err && reject(err));
      c.on("metadata", resolve);
    });
    client.close();
    expect(headers.get("x-app")[0]).toBe("echo");
    expect(headers.get("dapr-http-status")[0]).toBe("201");
  });

  test("over gRPC (InvokeService): the same call through the caller sidecar's gRPC port", async () => {
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(caller.grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger });
    try {
      const res = (await client.invoker.invoke(ids.server, "hello", HttpMethod.POST, { n: 2 })) as Record<string, unknown>;
      expect(res.greeting).toBe(`hello from ${ids.server}`);
      expect(res.got).toEqual({ n: 2 });
    } finally {
      await client.stop();
    }
  });
});

describe("HTTP invocation passes requests and answers through unchanged", () => {
  test.each(["GET", "POST", "PUT", "DELETE", "PATCH"])("%s with path, query, headers and body", async (verb) => {
    const hasBody = verb !== "GET";
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/a/b%20c/d?x=1&y=two&y=three`, {
      method: verb,
      headers: { "x-custom": "yes", "content-type": "text/plain" },
      body: hasBody ? `body for ${verb}` : undefined,
    });
    expect(r.status).toBe(200);
    const e = (await r.json()) as any;
    expect(e.method).toBe(verb);
    expect(e.path).toBe("/a/b%20c/d");
    expect(e.query).toBe("x=1&y=two&y=three");
    expect(e.headers["x-custom"]).toBe("yes");
    expect(e.body).toBe(hasBody ? `body for ${verb}` : "");
    expect(e.app).toBe(ids.echo);
    expect(e.headers["dapr-caller-app-id"]).toBe(ids.caller);
    // APP_API_TOKEN of the callee's sidecar reaches its app; internal headers do not.
    expect(e.headers["dapr-api-token"]).toBe("app-secret");
    expect(Object.keys(e.headers).filter((k) => k.startsWith("rapr-"))).toEqual([]);
  });

  test("the app's 404 is the app's 404: status, body and headers unchanged", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/status/404`);
    expect(r.status).toBe(404);
    expect(r.headers.get("x-app")).toBe("echo");
    expect(await r.text()).toBe("status 404");
  });

  test("a compressed answer passes through compressed, with its content-encoding", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/gzip`, { decompress: false } as RequestInit);
    expect(r.headers.get("content-encoding")).toBe("gzip");
    expect(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await r.arrayBuffer())))).toBe("compressed hello");
  });

  test.each([201, 400, 418, 503])("status %d comes back as is", async (code) => {
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/status/${code}`, { method: "POST" });
    expect(r.status).toBe(code);
    expect(await r.text()).toBe(`status ${code}`);
  });

  test("dapr-app-id header: any path on the sidecar goes to that app", async () => {
    const r = await caller.http(`/orders/42?full=1`, { method: "PUT", headers: { "dapr-app-id": ids.echo }, body: "header form" });
    expect(r.status).toBe(200);
    const e = (await r.json()) as any;
    expect([e.method, e.path, e.query, e.body]).toEqual(["PUT", "/orders/42", "full=1", "header form"]);
  });

  test("Basic auth form (user dapr-app-id) and doubled slashes, as daprd accepts them", async () => {
    const r = await caller.http(`//basic//form`, { headers: { authorization: `Basic ${btoa(`dapr-app-id:${ids.echo}`)}` } });
    expect(r.status).toBe(200);
    const e = (await r.json()) as any;
    expect(e.path).toBe("/basic/form");
  });

  test("namespaced id app.default reaches the app; another namespace does not", async () => {
    const ok = await caller.http(`/v1.0/invoke/${ids.echo}.default/method/ns`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as any).app).toBe(ids.echo);
    const other = await caller.http(`/v1.0/invoke/${ids.echo}.elsewhere/method/ns`);
    expect(other.status).toBe(500);
    expect(((await other.json()) as any).errorCode).toBe("ERR_DIRECT_INVOKE");
  });

  test("a call to the sidecar's own app id stays local", async () => {
    const r = await echo.http(`/v1.0/invoke/${ids.echo}/method/self`);
    expect(r.status).toBe(200);
    const e = (await r.json()) as any;
    expect(e.headers["dapr-caller-app-id"]).toBe(ids.echo);
    expect(e.headers["dapr-callee-app-id"]).toBe(ids.echo);
  });

  test("traceparent keeps the caller's trace id; tracestate passes through; one is created when absent", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/trace`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, tracestate: "vendor=value" },
    });
    const e = (await r.json()) as any;
    expect(e.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(e.headers.tracestate).toBe("vendor=value");
    const fresh = (await (await caller.http(`/v1.0/invoke/${ids.echo}/method/trace`)).json()) as any;
    expect(fresh.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test("through the SDK's DaprServer, the traceparent the caller sent arrives with the same trace id", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const r = await caller.http(`/v1.0/invoke/${ids.server}/method/hello`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${traceId}-b7ad6b7169203331-01` },
      body: JSON.stringify({ t: 1 }),
    });
    expect(r.status).toBe(200);
    expect(((await r.json()) as any).traceparent).toContain(traceId);
  });
});

describe("gRPC app as callee", () => {
  test("HTTP caller → gRPC app's AppCallback.OnInvoke with verb, query, content type and raw body", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.grpc}/method/do/thing?q=1`, { method: "PUT", headers: { "content-type": "text/plain" }, body: "raw bytes" });
    expect(r.status).toBe(200);
    const e = (await r.json()) as any;
    expect(e).toMatchObject({ method: "do/thing", verb: "PUT", query: "q=1", contentType: "text/plain", body: "raw bytes", app: ids.grpc });
    expect(e.token).toBe("grpc-app-secret"); // APP_API_TOKEN as dapr-api-token metadata
  });

  test("DaprClient over gRPC → gRPC app", async () => {
    const client = new DaprClient({ daprHost: "127.0.0.1", daprPort: String(caller.grpcPort), communicationProtocol: CommunicationProtocolEnum.GRPC, logger });
    try {
      const e = (await client.invoker.invoke(ids.grpc, "calc", HttpMethod.POST, { a: 1 })) as any;
      expect(e.method).toBe("calc");
      expect(JSON.parse(e.body)).toEqual({ a: 1 });
    } finally {
      await client.stop();
    }
  });

  test("a gRPC error from the app becomes the matching HTTP status", async () => {
    const r = await caller.http(`/v1.0/invoke/${ids.grpc}/method/fail`, { method: "POST" });
    expect(r.status).toBe(404);
    expect(await r.text()).toContain("no such thing");
  });
});

describe("gRPC proxying: a native gRPC client reaches the app's own service with dapr-app-id metadata", () => {
  const raw = (b: Buffer) => b;
  function call(md: Record<string, string>, body: string): Promise<{ err?: grpc.ServiceError; res?: string; trailer?: grpc.Metadata }> {
    const client = new grpc.Client(`127.0.0.1:${caller.grpcPort}`, grpc.credentials.createInsecure());
    const meta = new grpc.Metadata();
    for (const [k, v] of Object.entries(md)) meta.set(k, v);
    return new Promise((resolve) => {
      let trailer: grpc.Metadata | undefined;
      const c = client.makeUnaryRequest("/test.Echo/Say", raw, raw, Buffer.from(body), meta, { deadline: Date.now() + 10_000 }, (err, res) => {
        setTimeout(() => {
          client.close();
          resolve({ err: err ?? undefined, res: res?.toString(), trailer });
        }, 0);
      });
      c.on("status", (s) => (trailer = s.metadata));
    });
  }

  test("unary call through both sidecars; trailers come back", async () => {
    const out = await call({ "dapr-app-id": ids.grpc, "x-who": "proxy-test" }, "hi there");
    expect(out.err).toBeUndefined();
    expect(out.res).toBe("echo:hi there");
    expect(out.trailer?.get("x-who-echo")[0]).toBe("proxy-test");
  });

  test("the app's gRPC error status comes back as is", async () => {
    const out = await call({ "dapr-app-id": ids.grpc, "x-who": "fail" }, "x");
    expect(out.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(out.err?.details).toBe("told to fail");
  });

  test("an unknown service without dapr-app-id is UNIMPLEMENTED", async () => {
    const out = await call({}, "x");
    expect(out.err?.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

describe("bad input and faults", () => {
  test("unknown app id → 500 ERR_DIRECT_INVOKE naming the app", async () => {
    const r = await caller.http(`/v1.0/invoke/nobody-${uid()}/method/x`);
    expect(r.status).toBe(500);
    const e = (await r.json()) as any;
    expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
    expect(e.message).toContain("couldn't find service");
  });

  test("body over --dapr-http-max-request-size → 413, also for the dapr-app-id form", async () => {
    const big = new Uint8Array(1024 * 1024 + 10);
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/big`, { method: "POST", body: big });
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).errorCode).toBe("ERR_BODY_TOO_LARGE");
    const h = await caller.http(`/big`, { method: "POST", body: big, headers: { "dapr-app-id": ids.echo } });
    expect(h.status).toBe(413);
  });

  test("an answer larger than the request size limit comes back whole", async () => {
    const size = 3 * 1024 * 1024; // the caller sidecar's --dapr-http-max-request-size is 1 MB
    const r = await caller.http(`/v1.0/invoke/${ids.echo}/method/big/${size}`);
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(size);
  });

  test("a sidecar with certificates from another CA is refused by mTLS", async () => {
    const other = newCluster("invoke-foreign");
    try {
      // Same registry (so it finds the echo app), different CA.
      const intruder = await other.start({ appId: `intruder-${uid()}`, env: { RAPR_REGISTRY_DIR: cluster.registryDir } });
      const r = await intruder.http(`/v1.0/invoke/${ids.echo}/method/x`);
      expect(r.status).toBe(500);
      const e = (await r.json()) as any;
      expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
      expect(e.message).toMatch(/TLS|certificate|handshake|connection/i);
    } finally {
      await other.stopAll();
    }
  }, 20_000);

  test("a forged name-resolution entry pointing at another app's sidecar is refused (server identity check)", async () => {
    const nsDir = join(cluster.registryDir, "default");
    const echoEntry = readdirSync(nsDir).find((f) => f.startsWith(`${ids.echo}.`))!;
    const { address } = JSON.parse(readFileSync(join(nsDir, echoEntry), "utf8"));
    const ghost = `ghost-${uid()}`;
    writeFileSync(join(nsDir, `${ghost}.${process.pid}.json`), JSON.stringify({ appId: ghost, namespace: "default", address, pid: process.pid, registeredAt: new Date().toISOString() }));
    try {
      const r = await caller.http(`/v1.0/invoke/${ghost}/method/x`);
      expect(r.status).toBe(500);
      const e = (await r.json()) as any;
      expect(e.errorCode).toBe("ERR_DIRECT_INVOKE");
      expect(e.message).toContain(`spiffe://public/ns/default/${ids.echo}`);
    } finally {
      rmSync(join(nsDir, `${ghost}.${process.pid}.json`), { force: true });
    }
  });

  test("target sidecar down → ERR_DIRECT_INVOKE, not a hang", async () => {
    const victim = await cluster.start({ appId: `victim-${uid()}`, app: "invoke-echo-app.ts" });
    await waitForApp(caller, victim.appId, "ready");
    victim.proc.kill("SIGKILL");
    await victim.proc.exited;
    const r = await caller.http(`/v1.0/invoke/${victim.appId}/method/x`);
    expect(r.status).toBe(500);
    expect(((await r.json()) as any).errorCode).toBe("ERR_DIRECT_INVOKE");
  }, 20_000);
});

describe("API tokens", () => {
  test("DAPR_API_TOKEN: invocation without the dapr-api-token header is refused; with it, it works and the token stays in the caller's sidecar", async () => {
    const guarded = await cluster.start({ appId: `guarded-${uid()}`, env: { DAPR_API_TOKEN: "api-secret" } });
    const denied = await guarded.http(`/v1.0/invoke/${ids.echo}/method/x`);
    expect(denied.status).toBe(401);
    const ok = await guarded.http(`/v1.0/invoke/${ids.echo}/method/x`, { headers: { "dapr-api-token": "api-secret" } });
    expect(ok.status).toBe(200);
    const e = (await ok.json()) as any;
    expect(e.headers["dapr-api-token"]).toBe("app-secret"); // the callee's APP_API_TOKEN, not the caller's API token
  }, 20_000);
});
