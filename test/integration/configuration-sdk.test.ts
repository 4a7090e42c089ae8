// The configuration block through the compiled binary: over gRPC with the official Dapr JS SDK (the SDK has no HTTP
// configuration API) and over HTTP as daprd serves it, against Redis and PostgreSQL: a get, an SDK subscription
// hearing a change made in the backend, an HTTP app receiving POST /configuration/{store}/{key}, unsubscribe. With
// no --resources-path the embedded `configstore` (configuration.local.file) serves; the gRPC stream's first message
// carries only the id and UnsubscribeConfiguration ends it; bad input is 400 / INVALID_ARGUMENT.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum } from "@dapr/dapr";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import postgres from "postgres";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { sdkClient } from "../support/dapr-sdk.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { grpcError } from "../support/grpc-error.js";
import { componentYaml } from "../support/components.js";
import { missing, PG_URL, REDIS_HOST } from "../support/backends.js";
import { createDaprConfigurationTable, dropDaprConfigurationTable, uniqueTable } from "../support/postgres.js";

setDefaultTimeout(90_000);

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

interface Posted {
  path: string;
  contentType: string | null;
  body: { id: string; items: Record<string, { value?: string; version?: string }> };
}

/** An HTTP app recording what the sidecar posts to it. */
function recordingApp(port: number): Posted[] {
  const posted: Posted[] = [];
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method === "POST" && path.startsWith("/configuration/")) {
        posted.push({ path, contentType: req.headers.get("content-type"), body: (await req.json()) as Posted["body"] });
        return new Response("{}", { status: 200 });
      }
      return new Response(null, { status: 404 });
    },
  });
  cleanups.push(() => server.stop(true));
  return posted;
}

interface Backend {
  name: string;
  skip: boolean;
  /** The component's metadata, after preparing the backend (its cleanup pushed). */
  setUp(): Promise<Record<string, string>>;
  set(key: string, value: string, version: number): Promise<void>;
}

function redisBackend(): Backend {
  let redis: Redis;
  return {
    name: "configuration.redis",
    skip: false,
    async setUp() {
      redis = new Redis(`redis://${REDIS_HOST}`);
      cleanups.push(async () => {
        const keys = await redis.keys(`cfg-${RUN}-*`);
        if (keys.length) await redis.del(...keys);
        redis.disconnect();
      });
      return { redisHost: REDIS_HOST };
    },
    async set(key, value, version) {
      await redis.set(key, `${value}||${version}`);
    },
  };
}

function postgresBackend(): Backend {
  const table = uniqueTable("cfg_sdk");
  let sql: postgres.Sql;
  return {
    name: "configuration.postgresql",
    skip: false,
    async setUp() {
      await createDaprConfigurationTable(table, `${table}_ch`);
      sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
      cleanups.push(async () => {
        await sql.end({ timeout: 2 });
        await dropDaprConfigurationTable(table);
      });
      return { connectionString: PG_URL, table, notifyChannel: `${table}_ch` };
    },
    async set(key, value, version) {
      await sql.unsafe(`INSERT INTO "${table}" (KEY, VALUE, VERSION, METADATA) VALUES ($1, $2, $3, '{}')`, [key, value, String(version)]);
    },
  };
}

const backends: Backend[] = [
  { ...redisBackend(), skip: await missing("redis") },
  { ...postgresBackend(), skip: await missing("postgres") },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`${backend.name} through the binary`, () => {
    let sc: Sidecar;
    let posted: Posted[];
    const key = (name: string) => `cfg-${RUN}-${name}`;

    test("get over gRPC (SDK) and HTTP", async () => {
      const dir = mkdtempSync(join(tmpdir(), "rapr-cfg-"));
      writeFileSync(join(dir, "cfg.yaml"), componentYaml("cfg", backend.name, await backend.setUp()));
      const appPort = await freePort();
      posted = recordingApp(appPort);
      sc = await startSidecar({ appId: `cfg-${RUN}`, args: ["--resources-path", dir, "--app-port", String(appPort)] });
      cleanups.push(() => sc.stop());

      await backend.set(key("a"), "one", 1);
      const got = await sdkClient(sc, CommunicationProtocolEnum.GRPC).configuration.get("cfg", [key("a"), key("missing")]);
      expect(Object.keys(got.items)).toEqual([key("a")]);
      expect([got.items[key("a")]!.value, got.items[key("a")]!.version]).toEqual(["one", "1"]);
      for (const version of ["v1.0", "v1.0-alpha1"]) {
        const res = await sc.http(`/${version}/configuration/cfg?key=${key("a")}`);
        expect(await res.json()).toEqual({ [key("a")]: { value: "one", version: "1" } });
        expect((await sc.http(`/${version}/configuration/cfg?key=${key("missing")}`)).status).toBe(204);
      }
    });

    test("an SDK subscription (gRPC stream) hears a change made in the backend", async () => {
      const heard: string[] = [];
      const sub = await sdkClient(sc, CommunicationProtocolEnum.GRPC).configuration.subscribeWithKeys("cfg", [key("s")], async (res) => {
        const item = res.items[key("s")];
        if (item) heard.push(item.value);
      });
      // The SDK resolves before its stream is open: change the key until the first change is heard.
      let n = 0;
      await waitFor(async () => {
        if (heard.length) return true;
        await backend.set(key("s"), `sdk-${++n}`, n);
        return false;
      }, "the subscription to hear a change", 20_000, 300);
      await sub.stop();
      expect(heard[0]).toMatch(/^sdk-\d+$/);
    });

    test("an HTTP subscription posts each update to the app at /configuration/{store}/{key}; unsubscribe ends it", async () => {
      const res = await sc.http(`/v1.0/configuration/cfg/subscribe?key=${key("h")}`);
      expect(res.status).toBe(200);
      const { id } = (await res.json()) as { id: string };
      expect(id).toBeTruthy();
      await backend.set(key("h"), "hello", 7);
      const post = await waitFor(() => posted.find((p) => p.path === `/configuration/cfg/${key("h")}`), "the app to get the update", 20_000);
      expect(post.contentType).toContain("application/json");
      expect(post.body).toEqual({ id, items: { [key("h")]: { value: "hello", version: "7" } } });

      const off = await sc.http(`/v1.0/configuration/cfg/${id}/unsubscribe`);
      expect([off.status, await off.json()]).toEqual([200, { ok: true }]);
      const again = await sc.http(`/v1.0-alpha1/configuration/cfg/${id}/unsubscribe`);
      expect([again.status, await again.json()]).toEqual([500, { ok: false, message: `failed to unsubscribe to configuration request ${id}: subscription does not exist` }]);
    });
  });
}

describe("the embedded configstore, the gRPC stream and bad input", () => {
  let sc: Sidecar;
  const dapr = () => createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sc.grpcPort}` }));

  test("without --resources-path: configstore (configuration.local.file in --data-dir) is listed and served", async () => {
    sc = await startSidecar({ appId: `cfg-default-${RUN}` });
    cleanups.push(() => sc.stop());
    writeFileSync(join(sc.dataDir, "configuration.yaml"), "greeting: {value: hi, version: \"3\", metadata: {lang: en}}\n");
    const md = (await (await sc.http("/v1.0/metadata")).json()) as { components: unknown[] };
    expect(md.components).toContainEqual({ name: "configstore", type: "configuration.local.file", version: "v1", capabilities: [] });
    const res = await sc.http("/v1.0/configuration/configstore");
    expect(await res.json()).toEqual({ greeting: { value: "hi", version: "3", metadata: { lang: "en" } } });
    const got = await sdkClient(sc, CommunicationProtocolEnum.GRPC).configuration.get("configstore", ["greeting"]);
    expect(got.items.greeting!.value).toBe("hi");
  });

  test("SubscribeConfiguration: the first message holds only the id; UnsubscribeConfiguration ends the stream", async () => {
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const stream = dapr().subscribeConfigurationAlpha1({ storeName: "configstore", keys: ["greeting"] }, { signal: abort.signal });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    const id = first.value!.id;
    expect([id.length > 0, Object.keys(first.value!.items)]).toEqual([true, []]);
    expect(await dapr().unsubscribeConfiguration({ storeName: "configstore", id })).toMatchObject({ ok: true });
    expect((await it.next()).done).toBe(true);
    expect(await dapr().unsubscribeConfigurationAlpha1({ storeName: "configstore", id })).toMatchObject({
      ok: false,
      message: `failed to unsubscribe to configuration request ${id}: subscription does not exist`,
    });
  });

  test("bad input: unknown store 400 / INVALID_ARGUMENT, subscribe without an app 500 ERR_APP_CHANNEL_NIL", async () => {
    for (const path of ["/v1.0/configuration/nope?key=a", "/v1.0-alpha1/configuration/nope/subscribe", "/v1.0/configuration/nope/x/unsubscribe"]) {
      const res = await sc.http(path);
      expect([path, res.status, await res.json()]).toEqual([path, 400, { errorCode: "ERR_CONFIGURATION_STORE_NOT_FOUND", message: "configuration store nope not found" }]);
    }
    const noApp = await sc.http("/v1.0/configuration/configstore/subscribe");
    expect([noApp.status, ((await noApp.json()) as { errorCode: string }).errorCode]).toEqual([500, "ERR_APP_CHANNEL_NIL"]);
    const get = await grpcError(() => dapr().getConfiguration({ storeName: "nope", keys: [] }));
    expect([get.code, get.rawMessage]).toEqual([Code.InvalidArgument, "configuration store nope not found"]);
    const sub = await grpcError(async () => {
      for await (const _ of dapr().subscribeConfiguration({ storeName: "nope", keys: [] })) break;
    });
    expect(sub.code).toBe(Code.InvalidArgument);
    expect((await sc.http("/v1.0/configuration/configstore?key=greeting")).status).toBe(200);
  });
});
