// Bindings through the compiled binary: the Dapr JS SDK calls output bindings (localstorage, postgresql, http) over
// HTTP and gRPC; DaprServer apps (HTTP and gRPC) receive bindings.cron events; a plain app shows the OPTIONS probe,
// `route`, `direction: input`, and an inbound retry; bad requests get Dapr's errors; outbound retries and timeouts
// are counted at a local HTTP backend; DAPR_API_TOKEN guards the API and APP_API_TOKEN reaches the app; input events
// start only once the sidecar's API answers; on SIGTERM input bindings close before the app channel does; a gRPC
// app's answer naming output bindings (`to`) is written through them.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum, type DaprClient, type DaprServer } from "@dapr/dapr";
import { sdkClient, sdkServer } from "../support/dapr-sdk.js";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { BindingEventResponseSchema, ListInputBindingsResponseSchema } from "../../src/gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { componentYaml } from "../support/components.js";
import { freePort, waitFor } from "../support/ports.js";
import { missing } from "../support/backends.js";
import { dropTable, PG_URL, uniqueTable } from "../support/postgres.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

setDefaultTimeout(30_000);

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
/** A response body as loosely typed JSON, for assertions. */
const jsonOf = (r: Response): Promise<any> => r.json();
/** DaprClient.binding.send, its answer loosely typed (the SDK declares it as object): parsed JSON over HTTP,
 * {data, metadata, operation} over gRPC. */
const send = (c: DaprClient, ...args: Parameters<DaprClient["binding"]["send"]>): Promise<any> => c.binding.send(...args);
const cleanups: (() => unknown)[] = [];

/** A native gRPC app (grpc-js) that listens to `bindings` and answers each OnBindingEvent with `answer()`. */
async function grpcBindingsApp(port: number, bindings: string[], answer: () => { to: string[]; data: Uint8Array }): Promise<grpc.Server> {
  const raw = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b });
  const server = new grpc.Server();
  server.addService(
    { ListInputBindings: raw("/dapr.proto.runtime.v1.AppCallback/ListInputBindings"), OnBindingEvent: raw("/dapr.proto.runtime.v1.AppCallback/OnBindingEvent") } as grpc.ServiceDefinition,
    {
      ListInputBindings(_call: unknown, cb: grpc.sendUnaryData<Buffer>) {
        cb(null, Buffer.from(toBinary(ListInputBindingsResponseSchema, create(ListInputBindingsResponseSchema, { bindings }))));
      },
      OnBindingEvent(_call: unknown, cb: grpc.sendUnaryData<Buffer>) {
        cb(null, Buffer.from(toBinary(BindingEventResponseSchema, create(BindingEventResponseSchema, answer()))));
      },
    } as grpc.UntypedServiceImplementation,
  );
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}

function resourcesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-bindings-res-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function resiliencyYaml(policies: string, components: string): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: bindings-policies
spec:
  policies:
${policies}
  targets:
    components:
${components}
`;
}

// The HTTP backend bindings.http calls: /echo answers what it got, /flaky fails twice then succeeds, /slow never
// answers before the caller gives up.
const calls: Record<string, number> = {};
const backend = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const path = new URL(req.url).pathname;
    calls[path] = (calls[path] ?? 0) + 1;
    if (path === "/flaky" && calls[path] <= 2) return new Response("not yet", { status: 500 });
    if (path === "/slow") {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5_000);
        req.signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
      });
      return new Response("too late");
    }
    const body = await req.text();
    return Response.json({ method: req.method, path, body, traceparent: req.headers.get("traceparent"), hello: req.headers.get("X-Hello") }, { headers: { "x-backend": "yes" } });
  },
});
const BACKEND = `http://127.0.0.1:${backend.port}`;

function client(sc: Sidecar, protocol: CommunicationProtocolEnum): DaprClient {
  const c = sdkClient(sc, protocol);
  cleanups.push(() => c.stop());
  return c;
}

const post = (sc: Sidecar, name: string, body: unknown, method = "POST") =>
  sc.http(`/v1.0/bindings/${name}`, { method, headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });

afterAll(async () => {
  for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
  backend.stop(true);
});

// Its sidecar holds a bindings.postgresql component, which must connect for the sidecar to start.
describe.skipIf(await missing("postgres"))("output bindings, and an HTTP app built with DaprServer receiving cron events", () => {
  let sc: Sidecar;
  let server: DaprServer;
  let filesDir: string;
  const table = uniqueTable("rapr_bind");
  const ticks: unknown[] = [];

  beforeAll(async () => {
    filesDir = mkdtempSync(join(tmpdir(), "rapr-bindings-files-"));
    cleanups.push(() => rmSync(filesDir, { recursive: true, force: true }));
    const res = resourcesDir({
      "files.yaml": componentYaml("files", "bindings.localstorage", { rootPath: filesDir }),
      "pg.yaml": componentYaml("pg", "bindings.postgresql", { connectionString: PG_URL }),
      "web.yaml": componentYaml("web", "bindings.http", { url: BACKEND }),
      "flaky.yaml": componentYaml("flaky", "bindings.http", { url: `${BACKEND}/flaky` }),
      "slow.yaml": componentYaml("slow", "bindings.http", { url: `${BACKEND}/slow` }),
      "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }),
      "resiliency.yaml": resiliencyYaml(
        "    timeouts:\n      short: 300ms\n    retries:\n      thrice:\n        policy: constant\n        duration: 20ms\n        maxRetries: 3",
        "      flaky:\n        outbound:\n          retry: thrice\n      slow:\n        outbound:\n          timeout: short",
      ),
    });
    const appPort = await freePort();
    sc = await startSidecar({ appId: "bindings-it", args: ["--app-port", String(appPort), "--resources-path", res] });
    cleanups.push(() => sc.stop());
    server = sdkServer(sc, appPort, CommunicationProtocolEnum.HTTP);
    await server.binding.receive("ticks", async (data: unknown) => void ticks.push(data));
    await server.start();
    cleanups.push(() => server.stop());
    cleanups.push(() => dropTable(table));
  });

  test("DaprClient over HTTP and gRPC writes and reads files through bindings.localstorage", async () => {
    const http = client(sc, CommunicationProtocolEnum.HTTP);
    const grpc = client(sc, CommunicationProtocolEnum.GRPC);
    expect(await send(http, "files", "create", "hello over http", { fileName: "http.txt" })).toEqual({ fileName: "http.txt" });
    await send(http, "files", "create", { n: 1, tags: ["a"] }, { fileName: "dir/object.json" });
    const created = await send(grpc, "files", "create", "hello over grpc", { fileName: "grpc.txt" });
    expect(JSON.parse(decode(created.data))).toEqual({ fileName: "grpc.txt" });
    // A JSON string is written unquoted, whichever protocol carried it; other values as JSON.
    expect(readFileSync(join(filesDir, "http.txt"), "utf8")).toBe("hello over http");
    expect(readFileSync(join(filesDir, "grpc.txt"), "utf8")).toBe("hello over grpc");
    expect(JSON.parse(readFileSync(join(filesDir, "dir/object.json"), "utf8"))).toEqual({ n: 1, tags: ["a"] });
    expect(await send(http, "files", "get", undefined, { fileName: "grpc.txt" })).toBe("hello over grpc");
    expect(decode((await send(grpc, "files", "get", undefined, { fileName: "http.txt" })).data)).toBe("hello over http");
    expect(await send(http, "files", "list", undefined, {})).toEqual(["dir/object.json", "grpc.txt", "http.txt"]);
    await send(grpc, "files", "delete", undefined, { fileName: "grpc.txt" });
    expect(await send(http, "files", "list", undefined, {})).toEqual(["dir/object.json", "http.txt"]);
  });

  test("DaprClient over HTTP and gRPC runs SQL on a real PostgreSQL through bindings.postgresql", async () => {
    const http = client(sc, CommunicationProtocolEnum.HTTP);
    const grpc = client(sc, CommunicationProtocolEnum.GRPC);
    await send(http, "pg", "exec", undefined, { sql: `CREATE TABLE "${table}" (id int PRIMARY KEY, name text)` });
    await send(http, "pg", "exec", undefined, { sql: `INSERT INTO "${table}" VALUES ($1, $2)`, params: JSON.stringify([1, "http"]) });
    const inserted = await send(grpc, "pg", "exec", undefined, { sql: `INSERT INTO "${table}" VALUES ($1, $2), ($3, $4)`, params: JSON.stringify([2, "grpc", 3, "grpc"]) });
    expect(inserted.metadata["rows-affected"]).toBe("2");
    const sql = `SELECT id, name FROM "${table}" ORDER BY id`;
    expect(await send(http, "pg", "query", undefined, { sql })).toEqual([[1, "http"], [2, "grpc"], [3, "grpc"]]);
    const viaGrpc = await send(grpc, "pg", "query", undefined, { sql: `${sql} LIMIT 1` });
    expect(JSON.parse(decode(viaGrpc.data))).toEqual([[1, "http"]]);
    expect(viaGrpc.metadata.sql).toBe(`${sql} LIMIT 1`);
  });

  test("DaprClient over HTTP and gRPC calls a local HTTP server through bindings.http", async () => {
    const http = client(sc, CommunicationProtocolEnum.HTTP);
    const grpc = client(sc, CommunicationProtocolEnum.GRPC);
    const viaHttp = await send(http, "web", "post", { order: 7 }, { path: "/echo", "X-Hello": "from-http" });
    expect(viaHttp).toMatchObject({ method: "POST", path: "/echo", body: '{"order":7}', hello: "from-http" });
    const viaGrpc = await send(grpc, "web", "put", { order: 8 }, { path: "/echo" });
    expect(JSON.parse(decode(viaGrpc.data))).toMatchObject({ method: "PUT", body: '{"order":8}' });
    expect(viaGrpc.metadata).toMatchObject({ statusCode: "200", "X-Backend": "yes" });
    // As in daprd: the HTTP API hands the binding a string's JSON encoding (quotes kept); gRPC data goes as is.
    expect((await send(http, "web", "post", "plain", { path: "/echo" })).body).toBe('"plain"');
    expect(JSON.parse(decode((await send(grpc, "web", "post", "plain", { path: "/echo" })).data)).body).toBe("plain");
  });

  test("raw HTTP: 200 with the data (or none) and metadata.* headers, POST and PUT alike", async () => {
    for (const method of ["POST", "PUT"]) {
      const res = await post(sc, "web", { operation: "get", metadata: { path: "/echo" } }, method);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("application/json"); // the backend's
      expect(res.headers.get("metadata.statuscode")).toBe("200");
      expect(res.headers.get("metadata.x-backend")).toBe("yes");
      expect(await jsonOf(res)).toMatchObject({ method: "GET", path: "/echo" });
    }
    const traced = await sc.http("/v1.0/bindings/web", {
      method: "POST",
      headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
      body: JSON.stringify({ operation: "get", metadata: { path: "/echo" } }),
    });
    expect((await jsonOf(traced)).traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    // As daprd: a binding that answered with no data is still 200 application/json, with an empty body.
    const exec = await post(sc, "pg", { operation: "exec", metadata: { sql: "SELECT 1" } });
    expect(exec.status).toBe(200);
    expect(exec.headers.get("content-type")).toStartWith("application/json");
    expect(await exec.text()).toBe("");
    expect(exec.headers.get("metadata.operation")).toBe("exec");
    expect(exec.headers.get("metadata.rows-affected")).toBe("1");
  });

  test("bad requests get Dapr's errors, naming what was wrong, and the sidecar stays up", async () => {
    const cases: [string, unknown, number, string, RegExp][] = [
      ["nope", { operation: "get" }, 500, "ERR_INVOKE_OUTPUT_BINDING", /^error invoking output binding nope: couldn't find output binding nope \(output bindings: .*files/],
      ["files", "{not json", 400, "ERR_MALFORMED_REQUEST", /output binding files: failed to parse request body as JSON/],
      ["files", "[1, 2]", 400, "ERR_MALFORMED_REQUEST", /output binding files: request body must be a JSON object/],
      ["files", { operation: 5 }, 400, "ERR_MALFORMED_REQUEST", /field "operation" must be a string, got a number/],
      ["files", { operation: "get", metadata: { fileName: 12 } }, 400, "ERR_MALFORMED_REQUEST", /field "metadata.fileName" must be a string, got a number/],
      ["files", { operation: "get", metadata: ["fileName"] }, 400, "ERR_MALFORMED_REQUEST", /field "metadata" must be an object of strings, got an array/],
      ["files", { data: "x" }, 500, "ERR_INVOKE_OUTPUT_BINDING", /operation field is missing from request/],
      ["files", { operation: "explode" }, 500, "ERR_INVOKE_OUTPUT_BINDING", /binding files does not support operation explode; supported operations: create, get, list, delete/],
      ["files", { operation: "get", metadata: { fileName: "missing.txt" } }, 500, "ERR_INVOKE_OUTPUT_BINDING", /error invoking output binding files: .*missing\.txt.* not found/],
    ];
    for (const [name, body, status, errorCode, message] of cases) {
      const res = await post(sc, name, body);
      const got = await jsonOf(res);
      expect({ status: res.status, errorCode: got.errorCode }).toEqual({ status, errorCode });
      expect(got.message).toMatch(message);
    }
    const inputOnly = await jsonOf(await post(sc, "ticks", { operation: "create" }));
    expect(inputOnly.message).toBe("error invoking output binding ticks: binding ticks (bindings.cron) is not an output binding; its direction is input only");
    expect((await sc.http("/v1.0/healthz")).status).toBe(204);
  });

  test("gRPC InvokeBinding reports failures as INTERNAL with Dapr's message, and passes the caller's metadata on", async () => {
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sc.grpcPort}` }));
    const fails = async (req: { name: string; operation: string; metadata?: Record<string, string> }) => {
      try {
        await dapr.invokeBinding(req);
      } catch (err) {
        return ConnectError.from(err);
      }
      throw new Error("expected InvokeBinding to fail");
    };
    const unknown = await fails({ name: "nope", operation: "get" });
    expect(unknown.code).toBe(Code.Internal);
    expect(unknown.rawMessage).toStartWith("error invoking output binding nope: couldn't find output binding nope");
    expect(unknown.metadata.get("dapr-error-code")).toBe("ERR_INVOKE_OUTPUT_BINDING");
    expect((await fails({ name: "files", operation: "zap" })).rawMessage).toContain("does not support operation zap");
    expect((await fails({ name: "files", operation: "" })).rawMessage).toContain("operation field is missing");
    expect((await fails({ name: "files", operation: "get" })).rawMessage).toContain('metadata "fileName" is required');
    // As daprd: the caller's gRPC metadata joins the request's metadata (which wins over it).
    const sql = `SELECT 42 AS answer`;
    const fromHeader = await dapr.invokeBinding({ name: "pg", operation: "query" }, { headers: { sql } });
    expect(JSON.parse(decode(fromHeader.data))).toEqual([[42]]);
    expect(fromHeader.metadata.sql).toBe(sql);
    const own = await dapr.invokeBinding({ name: "pg", operation: "query", metadata: { sql: "SELECT 1" } }, { headers: { sql } });
    expect(JSON.parse(decode(own.data))).toEqual([[1]]);
    // The SDK hands the status on as a rejection carrying Dapr's message.
    const sdkError = await send(client(sc, CommunicationProtocolEnum.GRPC), "nope", "get", undefined).then(() => undefined, (e: unknown) => e);
    expect(String(sdkError)).toContain("couldn't find output binding nope");
  });

  test("an outbound retry policy carries a call over two failures; a timeout policy ends a call that hangs", async () => {
    const res = await post(sc, "flaky", { operation: "get" });
    expect(res.status).toBe(200);
    expect(calls["/flaky"]).toBe(3);
    const started = performance.now();
    const slow = await post(sc, "slow", { operation: "get" });
    const ms = performance.now() - started;
    expect(slow.status).toBe(500);
    const err = await jsonOf(slow);
    expect(err.errorCode).toBe("ERR_INVOKE_OUTPUT_BINDING");
    expect(err.message).toContain("no answer within the resiliency timeout of 300 ms");
    expect(ms).toBeLessThan(3_000);
  });

  test("GET /v1.0/metadata lists the bindings with INPUT_BINDING / OUTPUT_BINDING", async () => {
    const meta = await jsonOf(await sc.http("/v1.0/metadata"));
    const caps = Object.fromEntries(meta.components.map((c: any) => [c.name, c.capabilities]));
    expect(caps).toMatchObject({ files: ["OUTPUT_BINDING"], pg: ["OUTPUT_BINDING"], web: ["OUTPUT_BINDING"], ticks: ["INPUT_BINDING"] });
  });

  test("the DaprServer HTTP app receives bindings.cron events through server.binding.receive", async () => {
    await waitFor(() => ticks.length >= 2, "two cron events at the DaprServer app");
  });
});

describe("a gRPC app built with DaprServer", () => {
  test("receives bindings.cron events through ListInputBindings and OnBindingEvent", async () => {
    const res = resourcesDir({ "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }) });
    const appPort = await freePort();
    const sc = await startSidecar({ appId: "bindings-grpc-it", args: ["--app-port", String(appPort), "--app-protocol", "grpc", "--resources-path", res] });
    cleanups.push(() => sc.stop());
    const server = sdkServer(sc, appPort, CommunicationProtocolEnum.GRPC);
    const got: unknown[] = [];
    await server.binding.receive("ticks", async (data: unknown) => void got.push(data));
    await server.start();
    cleanups.push(() => server.stop());
    await waitFor(() => got.length >= 2, "two cron events at the gRPC app");
  });
});

describe("a gRPC app whose answer names output bindings", () => {
  test("each event's answer data is written through bindings.localstorage (operation create)", async () => {
    const root = mkdtempSync(join(tmpdir(), "rapr-bindings-to-"));
    cleanups.push(() => rmSync(root, { recursive: true, force: true }));
    const res = resourcesDir({
      "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }),
      "files.yaml": componentYaml("files", "bindings.localstorage", { rootPath: root }),
    });
    const appPort = await freePort();
    let events = 0;
    const app = await grpcBindingsApp(appPort, ["ticks"], () => ({ to: ["files"], data: new TextEncoder().encode(JSON.stringify({ tick: ++events })) }));
    cleanups.push(() => app.forceShutdown());
    const sc = await startSidecar({ appId: "bindings-to-it", args: ["--app-port", String(appPort), "--app-protocol", "grpc", "--resources-path", res] });
    cleanups.push(() => sc.stop());
    // A file is created before it is written: an empty one throws in JSON.parse, and waitFor asks again.
    const written = () => readdirSync(root).map((f) => JSON.parse(readFileSync(join(root, f), "utf8")).tick as number);
    const got = await waitFor(() => (written().length >= 2 ? written() : undefined), "two answers written to the localstorage binding");
    expect(got.sort().slice(0, 2)).toEqual([1, 2]);
  });
});

describe("input bindings and a plain HTTP app", () => {
  interface Seen {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string;
    status: number;
    at: number;
  }
  const seen: Seen[] = [];
  let sc: Sidecar;

  beforeAll(async () => {
    const appPort = await freePort();
    const app = Bun.serve({
      port: appPort,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        const listening = ["/custom/heard", "/retried"];
        let status = 200;
        if (req.method === "OPTIONS") status = listening.includes(path) ? 200 : 404;
        else if (path === "/retried" && !seen.some((s) => s.path === "/retried" && s.method === "POST")) status = 500;
        seen.push({ method: req.method, path, headers: Object.fromEntries(req.headers), body: await req.text(), status, at: performance.now() });
        return new Response(status === 200 ? "" : "no", { status });
      },
    });
    cleanups.push(() => app.stop(true));
    const res = resourcesDir({
      "heard.yaml": componentYaml("heard", "bindings.cron", { schedule: "@every 1s", route: "/custom/heard" }),
      "unheard.yaml": componentYaml("unheard", "bindings.cron", { schedule: "@every 1s" }),
      "declared.yaml": componentYaml("declared", "bindings.cron", { schedule: "@every 1s", direction: "input" }),
      "retried.yaml": componentYaml("retried", "bindings.cron", { schedule: "@every 1s" }),
      "resiliency.yaml": resiliencyYaml(
        "    retries:\n      again:\n        policy: constant\n        duration: 20ms\n        maxRetries: 3",
        "      retried:\n        inbound:\n          retry: again",
      ),
    });
    sc = await startSidecar({ appId: "bindings-raw-it", args: ["--app-port", String(appPort), "--resources-path", res] });
    cleanups.push(() => sc.stop());
  });

  const posts = (path: string) => seen.filter((s) => s.method === "POST" && s.path === path);

  test("events go to the component's route with their metadata as headers, after OPTIONS said yes", async () => {
    await waitFor(() => posts("/custom/heard").length >= 2, "two events at /custom/heard");
    expect(seen.find((s) => s.method === "OPTIONS" && s.path === "/custom/heard")).toBeDefined();
    const [first] = posts("/custom/heard");
    expect(first.headers["content-type"]).toBe("application/json");
    expect(first.headers.readtimeutc).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    expect(first.headers.timezone).toBeTruthy();
    expect(first.body).toBe("");
  });

  test("an app that answers OPTIONS with 404 gets no events", async () => {
    await waitFor(() => posts("/custom/heard").length >= 3, "three events at /custom/heard");
    expect(seen.find((s) => s.method === "OPTIONS" && s.path === "/unheard")?.status).toBe(404);
    expect(posts("/unheard")).toEqual([]);
  });

  test("direction: input delivers without asking the app first", async () => {
    await waitFor(() => posts("/declared").length >= 1, "an event at /declared");
    expect(seen.find((s) => s.method === "OPTIONS" && s.path === "/declared")).toBeUndefined();
  });

  test("an inbound retry policy delivers the same event again after the app refused it", async () => {
    await waitFor(() => posts("/retried").length >= 2, "a redelivery at /retried");
    const [refused, retried] = posts("/retried");
    expect(refused.status).toBe(500);
    expect(retried.status).toBe(200);
    expect(retried.headers.readtimeutc).toBe(refused.headers.readtimeutc);
  });
});

describe("API tokens", () => {
  const seen: { method: string; path: string; token: string | null }[] = [];
  let sc: Sidecar;

  beforeAll(async () => {
    const appPort = await freePort();
    const app = Bun.serve({
      port: appPort,
      hostname: "127.0.0.1",
      fetch(req) {
        seen.push({ method: req.method, path: new URL(req.url).pathname, token: req.headers.get("dapr-api-token") });
        return new Response("");
      },
    });
    cleanups.push(() => app.stop(true));
    const filesDir = mkdtempSync(join(tmpdir(), "rapr-bindings-files-"));
    cleanups.push(() => rmSync(filesDir, { recursive: true, force: true }));
    const res = resourcesDir({
      "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }),
      "files.yaml": componentYaml("files", "bindings.localstorage", { rootPath: filesDir }),
    });
    sc = await startSidecar({
      appId: "bindings-token-it",
      args: ["--app-port", String(appPort), "--resources-path", res],
      env: { DAPR_API_TOKEN: "api-secret", APP_API_TOKEN: "app-secret" },
    });
    cleanups.push(() => sc.stop());
  });

  test("DAPR_API_TOKEN: /v1.0/bindings refuses a call without the token and serves one with it", async () => {
    const body = JSON.stringify({ operation: "create", data: "x", metadata: { fileName: "t.txt" } });
    const refused = await sc.http("/v1.0/bindings/files", { method: "POST", body });
    expect(refused.status).toBe(401);
    expect((await jsonOf(refused)).errorCode).toBe("ERR_API_UNAUTHORIZED");
    const wrong = await sc.http("/v1.0/bindings/files", { method: "POST", body, headers: { "dapr-api-token": "guess" } });
    expect(wrong.status).toBe(401);
    const served = await sc.http("/v1.0/bindings/files", { method: "POST", body, headers: { "dapr-api-token": "api-secret" } });
    expect(served.status).toBe(200);
    expect(await jsonOf(served)).toEqual({ fileName: "t.txt" });
  });

  test("DAPR_API_TOKEN: gRPC InvokeBinding refuses a call without the token and serves one with it", async () => {
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sc.grpcPort}` }));
    const req = { name: "files", operation: "create", data: new TextEncoder().encode("y"), metadata: { fileName: "g.txt" } };
    const refused = await dapr.invokeBinding(req).then(() => undefined, (e: unknown) => ConnectError.from(e));
    expect(refused?.code).toBe(Code.Unauthenticated);
    const served = await dapr.invokeBinding(req, { headers: { "dapr-api-token": "api-secret" } });
    expect(JSON.parse(decode(served.data))).toEqual({ fileName: "g.txt" });
  });

  test("APP_API_TOKEN reaches the app on the OPTIONS probe and on every event", async () => {
    await waitFor(() => seen.filter((s) => s.method === "POST" && s.path === "/ticks").length >= 1, "an event at /ticks");
    const calls = seen.filter((s) => s.path === "/ticks");
    expect(calls[0]).toEqual({ method: "OPTIONS", path: "/ticks", token: "app-secret" });
    expect(calls.filter((s) => s.method === "POST").every((s) => s.token === "app-secret")).toBe(true);
  });
});

describe("start and shutdown of input bindings", () => {
  /** A plain app that answers POST after `answerMs`, and OPTIONS at once. */
  async function slowApp(answerMs: number, status = 200) {
    const port = await freePort();
    const stats = { posts: 0, answered: 0 };
    const server = Bun.serve({
      port,
      hostname: "127.0.0.1",
      async fetch(req) {
        if (req.method !== "POST") return new Response(null, { status: 200 });
        stats.posts++;
        await Bun.sleep(answerMs);
        stats.answered++;
        return new Response(status === 200 ? "" : "no", { status });
      },
    });
    cleanups.push(() => server.stop(true));
    return { port, stats };
  }

  test("events reach the app only once the sidecar's own API answers", async () => {
    const port = await freePort();
    const firstAnswers: number[] = [];
    let httpPort = 0;
    const server = Bun.serve({
      port,
      hostname: "127.0.0.1",
      async fetch(req) {
        if (req.method === "POST" && firstAnswers.length === 0) {
          firstAnswers.push(httpPort === 0 ? -1 : await fetch(`http://127.0.0.1:${httpPort}/v1.0/healthz`).then((r) => r.status, () => 0));
        }
        return new Response("");
      },
    });
    cleanups.push(() => server.stop(true));
    const res = resourcesDir({ "fast.yaml": componentYaml("fast", "bindings.cron", { schedule: "@every 1ms", direction: "input" }) });
    // The app is up before the sidecar, so the first tick would come at once.
    const sc = await startSidecar({ appId: "bindings-ready-it", args: ["--app-port", String(port), "--resources-path", res], waitReady: false });
    httpPort = sc.httpPort;
    cleanups.push(() => sc.stop());
    await waitFor(() => firstAnswers.length > 0, "a first event");
    expect(firstAnswers).toEqual([204]);
    await sc.stop();
  });

  test("SIGTERM while an event is in flight: the app's answer is taken, then the sidecar exits cleanly", async () => {
    const app = await slowApp(1_500);
    const res = resourcesDir({ "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }) });
    const sc = await startSidecar({ appId: "bindings-drain-it", args: ["--app-port", String(app.port), "--resources-path", res, "--log-level", "debug"] });
    cleanups.push(() => sc.stop());
    await waitFor(() => app.stats.posts >= 1, "an event at the app");
    const started = performance.now();
    const code = await sc.stop();
    const log = await sc.output();
    expect(code).toBe(0);
    expect(app.stats.answered).toBe(app.stats.posts);
    expect(log).not.toContain("request aborted");
    expect(log).not.toContain("not accepted");
    expect(log).toContain("stopped");
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  test("SIGTERM while an inbound retry backs off: the sidecar exits within its graceful-shutdown time", async () => {
    const app = await slowApp(0, 500);
    const res = resourcesDir({
      "ticks.yaml": componentYaml("ticks", "bindings.cron", { schedule: "@every 1s" }),
      "resiliency.yaml": resiliencyYaml(
        "    retries:\n      patient:\n        policy: constant\n        duration: 15s\n        maxRetries: 3",
        "      ticks:\n        inbound:\n          retry: patient",
      ),
    });
    const sc = await startSidecar({
      appId: "bindings-backoff-it",
      args: ["--app-port", String(app.port), "--resources-path", res, "--dapr-graceful-shutdown-seconds", "1"],
    });
    cleanups.push(() => sc.stop());
    await waitFor(() => app.stats.answered >= 1, "a refused event");
    const started = performance.now();
    expect(await sc.stop()).toBe(0);
    expect(performance.now() - started).toBeLessThan(3_500); // 1 s of grace, the backoff is 15 s
    expect(app.stats.posts).toBe(1);
  });
});
