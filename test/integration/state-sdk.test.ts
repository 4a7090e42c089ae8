// The compiled rapr driven by the official Dapr JS SDK over HTTP and gRPC, against the embedded sqlite default
// and against PostgreSQL and Redis (with dapr init's own component file).
import { failureOf } from "../support/dapr-sdk.js";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { CommunicationProtocolEnum, DaprClient, LogLevel, StateConcurrencyEnum, StateConsistencyEnum } from "@dapr/dapr";
import { fileURLToPath } from "node:url";
import { missing } from "../support/backends.js";
import { waitFor } from "../support/ports.js";
import { dropTable, postgresResourcesDir, uniqueTable } from "../support/postgres.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

interface Backend {
  name: string;
  start(): Promise<{ sidecar: Sidecar; cleanup(): Promise<void> }>;
}

/** The components folder `dapr init` writes (state.redis and pubsub.redis on localhost:6379), as it writes it. */
const DAPR_INIT_RESOURCES = fileURLToPath(new URL("../fixtures/dapr-init", import.meta.url));
const noRedis = await missing("redis");

const backends: Backend[] = [
  {
    name: "sqlite (embedded default)",
    async start() {
      const sidecar = await startSidecar();
      return { sidecar, cleanup: async () => void (await sidecar.stop()) };
    },
  },
  {
    name: "postgresql",
    async start() {
      const table = uniqueTable("sdk");
      const dir = postgresResourcesDir({ table });
      const sidecar = await startSidecar({ args: ["--resources-path", dir] });
      return {
        sidecar,
        async cleanup() {
          await sidecar.stop();
          rmSync(dir, { recursive: true, force: true });
          await dropTable(table);
        },
      };
    },
  },
  ...(noRedis ? [] : [{
    name: "redis (the statestore.yaml dapr init writes)",
    async start() {
      const sidecar = await startSidecar({ appId: `sdk-redis-${Date.now().toString(36)}`, args: ["--resources-path", DAPR_INIT_RESOURCES] });
      return { sidecar, cleanup: async () => void (await sidecar.stop()) };
    },
  }]),
];

const protocols = [
  ["HTTP", CommunicationProtocolEnum.HTTP],
  ["gRPC", CommunicationProtocolEnum.GRPC],
] as const;

const STORE = "statestore";
const quiet = () => {};
const quietLogger = { error: quiet, warn: quiet, info: quiet, verbose: quiet, debug: quiet };

describe.each(backends)("Dapr JS SDK against rapr with $name", (backend) => {
  let sidecar: Sidecar;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ sidecar, cleanup } = await backend.start());
  });
  afterAll(async () => {
    await cleanup?.();
  });

  describe.each(protocols)("over %s", (protoName, protocol) => {
    let client: DaprClient;
    const k = (name: string) => `${protoName}-${name}`;

    beforeAll(async () => {
      client = new DaprClient({
        daprHost: "127.0.0.1",
        daprPort: String(protocol === CommunicationProtocolEnum.HTTP ? sidecar.httpPort : sidecar.grpcPort),
        communicationProtocol: protocol,
        // The HTTP client logs the failures this test provokes on purpose; keep them out of the output.
        logger: { level: LogLevel.Error, service: quietLogger },
      });
    });
    afterAll(async () => {
      await client?.stop();
    });

    test("save, get and delete", async () => {
      const saved = await client.state.save(STORE, [
        { key: k("obj"), value: { name: "ann", n: 1, tags: ["a", "ü"] } },
        { key: k("str"), value: "hello wörld" },
      ]);
      expect(saved.error).toBeUndefined();
      expect(await client.state.get(STORE, k("obj"))).toEqual({ name: "ann", n: 1, tags: ["a", "ü"] });
      expect(await client.state.get(STORE, k("str"))).toBe("hello wörld");
      expect(await client.state.get(STORE, k("missing"))).toBe("");
      expect((await client.state.delete(STORE, k("obj"))).error).toBeUndefined();
      expect(await client.state.get(STORE, k("obj"))).toBe("");
      expect(await client.state.get(STORE, k("str"))).toBe("hello wörld");
    });

    test("getBulk returns every key in order, with data and etag for the ones that exist", async () => {
      await client.state.save(STORE, [{ key: k("b1"), value: { v: 1 } }, { key: k("b2"), value: { v: 2 } }]);
      const got = (await client.state.getBulk(STORE, [k("b2"), k("nope"), k("b1")])) as { key: string; data?: unknown; etag?: string }[];
      expect(got.map((g) => g.key)).toEqual([k("b2"), k("nope"), k("b1")]);
      expect(got[0].data).toEqual({ v: 2 });
      expect(got[0].etag).toBeTruthy();
      expect(got[1].data ?? "").toBe("");
      expect(got[1].etag ?? "").toBe("");
      expect(got[2].data).toEqual({ v: 1 });
    });

    test("a transaction upserts and deletes together; one with a stale etag applies nothing", async () => {
      await client.state.save(STORE, [{ key: k("t-del"), value: "doomed" }, { key: k("t-keep"), value: "kept" }]);
      await client.state.transaction(STORE, [
        { operation: "upsert", request: { key: k("t-a"), value: "A" } },
        { operation: "upsert", request: { key: k("t-b"), value: "B" } },
        { operation: "delete", request: { key: k("t-del") } },
      ]);
      expect(await client.state.get(STORE, k("t-a"))).toBe("A");
      expect(await client.state.get(STORE, k("t-b"))).toBe("B");
      expect(await client.state.get(STORE, k("t-del"))).toBe("");

      const failed = await failureOf(() => client.state.transaction(STORE, [
        { operation: "upsert", request: { key: k("t-a"), value: "A2" } },
        { operation: "delete", request: { key: k("t-b") } },
        // The SDK types etag as {value}, but both of its clients send whatever is given as the etag string.
        { operation: "upsert", request: { key: k("t-keep"), value: "X", etag: "stale-etag" as never } },
      ]));
      expect(failed).toBeDefined();
      expect(await client.state.get(STORE, k("t-a"))).toBe("A");
      expect(await client.state.get(STORE, k("t-b"))).toBe("B");
      expect(await client.state.get(STORE, k("t-keep"))).toBe("kept");
    });

    test("ETag: a save with a stale etag fails, with the fresh one succeeds; first-write refuses an existing key", async () => {
      const key = k("etag");
      await client.state.save(STORE, [{ key, value: { v: 1 } }]);
      const [first] = (await client.state.getBulk(STORE, [key])) as { etag: string }[];
      expect(first.etag).toBeTruthy();
      expect(await failureOf(() => client.state.save(STORE, [{ key, value: { v: 2 }, etag: first.etag }]))).toBeUndefined();
      const [second] = (await client.state.getBulk(STORE, [key])) as { etag: string }[];
      expect(second.etag).not.toBe(first.etag);

      const stale = await failureOf(() => client.state.save(STORE, [{ key, value: { v: 3 }, etag: first.etag }]));
      expect(stale).toMatch(/etag|409|Aborted/i);
      expect(await client.state.get(STORE, key)).toEqual({ v: 2 });

      const firstWrite = await failureOf(() => client.state.save(STORE, [
        { key, value: { v: 4 }, options: { concurrency: StateConcurrencyEnum.CONCURRENCY_FIRST_WRITE, consistency: StateConsistencyEnum.CONSISTENCY_UNSPECIFIED } },
      ]));
      expect(firstWrite).toBeDefined();

      expect(await failureOf(() => client.state.delete(STORE, key, { etag: first.etag }))).toMatch(/etag|409|Aborted/i);
      expect(await client.state.get(STORE, key)).toEqual({ v: 2 });
      expect(await failureOf(() => client.state.save(STORE, [{ key, value: { v: 5 }, etag: second.etag }]))).toBeUndefined();
      expect(await client.state.get(STORE, key)).toEqual({ v: 5 });
    });

    test("ttlInSeconds metadata makes an item expire", async () => {
      const key = k("ttl");
      await client.state.save(STORE, [
        { key, value: "short-lived", metadata: { ttlInSeconds: "1" } },
        { key: k("ttl-long"), value: "stays", metadata: { ttlInSeconds: "3600" } },
      ]);
      expect(await client.state.get(STORE, key)).toBe("short-lived");
      await waitFor(async () => (await client.state.get(STORE, key)) === "", "the item to expire", 10_000, 100);
      expect(await client.state.get(STORE, k("ttl-long"))).toBe("stays");
    });

    test("request-level metadata (save options) applies ttlInSeconds to every item", async () => {
      const keys = [k("ttl-opt-1"), k("ttl-opt-2")];
      const saved = await client.state.save(STORE, keys.map((key) => ({ key, value: "brief" })), { metadata: { ttlInSeconds: "1" } });
      expect(saved.error).toBeUndefined();
      expect(await client.state.get(STORE, keys[0])).toBe("brief");
      await waitFor(async () => (await client.state.get(STORE, keys[0])) === "" && (await client.state.get(STORE, keys[1])) === "", "both items to expire", 10_000, 100);
    });

    test("query filters, sorts and pages with a token", async () => {
      const run = `${protoName}-${Math.random().toString(36).slice(2, 8)}`;
      const docs = [1, 2, 3, 4, 5].map((n) => ({ key: k(`q${n}`), value: { run, n, team: n % 2 ? "odd" : "even" } }));
      await client.state.save(STORE, docs);
      const decode = (d: unknown) => (d instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(d)) : d);
      const page1 = await client.state.query(STORE, {
        filter: { AND: [{ EQ: { run } }, { EQ: { team: "odd" } }] } as any,
        sort: [{ key: "n", order: "DESC" }],
        page: { limit: 2 },
      });
      expect(page1.results.map((r) => decode(r.data).n)).toEqual([5, 3]);
      expect(page1.results.map((r) => r.key)).toEqual([k("q5"), k("q3")]);
      expect(page1.token).toBeTruthy();
      const page2 = await client.state.query(STORE, {
        filter: { AND: [{ EQ: { run } }, { EQ: { team: "odd" } }] } as any,
        sort: [{ key: "n", order: "DESC" }],
        page: { limit: 2, token: page1.token },
      });
      expect(page2.results.map((r) => decode(r.data).n)).toEqual([1]);
      expect(page2.token || undefined).toBeUndefined();
      const inList = await client.state.query(STORE, { filter: { IN: { n: [2, 4] } } as any, sort: [{ key: "n", order: "ASC" }], page: { limit: 100 } });
      expect(inList.results.filter((r) => decode(r.data).run === run).map((r) => decode(r.data).n)).toEqual([2, 4]);
    });
  });
});
