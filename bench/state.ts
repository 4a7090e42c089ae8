// State benchmark: save+get pairs per second through rapr (HTTP with keep-alive fetch, and gRPC through a Connect
// client) next to the same save+get done directly on the same backend in the same run, at N concurrent clients.
//   bun bench/state.ts [--seconds 5] [--rounds 5] [--warmup 2] [--clients 16] [--backends sqlite,postgresql,redis]
// sqlite direct: the state.sqlite plugin object in-process (the same schema and statements rapr runs) on its own
// file. PostgreSQL direct: the `postgres` package doing the plugin's upsert and select, with the same pool size.
// Redis direct: ioredis (one auto-pipelined connection, as the plugin has) running the plugin's two Lua scripts;
// the Redis floor's HTTP column: bench/state-redis-floor.ts, a bare Bun.serve process doing the same over HTTP.
// Bounded: each case gets --seconds in all, split into --rounds rounds that alternate direct, HTTP and gRPC, so load
// from other processes on the machine skews all three alike; each cell is the median round.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import stateSqlite from "../plugins/state.sqlite/index.js";
import { READ, WRITE } from "../plugins/state.redis/scripts.js";
import type { StateStore } from "../src/components/contracts/state.js";
import { parseMetadata } from "../src/components/metadata-schema.js";
import { Dapr } from "../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { silentLogger } from "../src/observability/logger.js";
import { REDIS_HOST } from "../test/support/backends.js";
import { componentYaml } from "../test/support/components.js";
import { dropTable, PG_URL, postgresResourcesDir, uniqueTable } from "../test/support/postgres.js";
import { freePort, waitFor } from "../test/support/ports.js";
import { startSidecar, type Sidecar } from "../test/support/sidecar.js";
import { flagNumber, flagText } from "./flags.js";

const SECONDS = flagNumber("seconds", 5);
const ROUNDS = flagNumber("rounds", 5);
/** Seconds each case runs unmeasured first: the sidecar's HTTP and HTTP/2 paths are JIT-compiled JS that needs to warm up. */
const WARMUP = flagNumber("warmup", 2);
const CLIENTS = flagNumber("clients", 16);
const BACKENDS = (flagText("backends") ?? "sqlite,postgresql,redis").split(",");
const MAX_PAIRS = 2_000_000;
const KEYS_PER_CLIENT = 100;
const enc = new TextEncoder();
const value = (c: number, i: number) => ({ client: c, i, payload: "x".repeat(64) });

type Pair = (client: number, i: number) => Promise<void>;
/** Runs one case for a number of seconds and returns pairs per second. */
type Runner = (seconds: number) => Promise<number>;

/** Runs CLIENTS loops of save+get until the time or pair budget runs out; returns pairs per second. */
async function measureOnce(pair: Pair, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let pairs = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; performance.now() < deadline && pairs < MAX_PAIRS; i++) {
      await pair(c, i);
      pairs++;
    }
  }));
  return pairs / ((performance.now() - started) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const inProcess = (pair: Pair): Runner => (seconds) => measureOnce(pair, seconds);

/** The official SDK over gRPC, in a Node process of its own (bench/drivers/sdk-grpc-state.cjs). */
function viaNodeSdkGrpc(sidecar: Sidecar): Runner {
  const driver = join(import.meta.dir, "drivers", "sdk-grpc-state.cjs");
  return async (seconds) => {
    const proc = Bun.spawn(["node", driver, String(sidecar.grpcPort), String(CLIENTS), String(seconds)], { stdout: "pipe", stderr: "inherit" });
    const out = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`SDK driver failed: ${out}`);
    return Number(out.trim());
  };
}

/** Alternates the cases round by round; returns each case's median pairs per second. */
async function measure(cases: Runner[]): Promise<number[]> {
  for (const run of cases) await run(WARMUP);
  const results = cases.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < cases.length; i++) results[i].push(await cases[i](SECONDS / ROUNDS));
  }
  return results.map(median);
}

function viaHttp(sidecar: Pick<Sidecar, "httpPort">): Pair {
  const base = `http://127.0.0.1:${sidecar.httpPort}/v1.0/state/statestore`;
  return async (c, i) => {
    const key = `k${c}-${i % KEYS_PER_CLIENT}`;
    const saved = await fetch(base, { method: "POST", body: JSON.stringify([{ key, value: value(c, i) }]), headers: { "content-type": "application/json" } });
    if (saved.status !== 204) throw new Error(`save: ${saved.status} ${await saved.text()}`);
    const got = await fetch(`${base}/${key}`);
    if (got.status !== 200) throw new Error(`get: ${got.status}`);
    await got.arrayBuffer();
  };
}

function viaGrpc(sidecar: Sidecar): Pair {
  const client = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sidecar.grpcPort}` }));
  return async (c, i) => {
    const key = `k${c}-${i % KEYS_PER_CLIENT}`;
    await client.saveState({ storeName: "statestore", states: [{ key, value: enc.encode(JSON.stringify(value(c, i))) }] });
    const got = await client.getState({ storeName: "statestore", key });
    if (got.data.length === 0) throw new Error("get: empty");
  };
}

function directStore(store: StateStore): Pair {
  return async (c, i) => {
    const key = `bench||k${c}-${i % KEYS_PER_CLIENT}`;
    await store.set({ key, value: enc.encode(JSON.stringify(value(c, i))), concurrency: "last-write" });
    if (!(await store.get(key))) throw new Error("get: missing");
  };
}

/** The plugin's last-write upsert and live-row select, written out with the postgres package. */
function directPostgres(sql: postgres.Sql, table: string): Pair {
  const t = sql(table);
  return async (c, i) => {
    const key = `bench||k${c}-${i % KEYS_PER_CLIENT}`;
    const etag = crypto.randomUUID().slice(0, 16);
    const bytes = Buffer.from(JSON.stringify(value(c, i)));
    await sql`INSERT INTO ${t} AS s (key, value, etag, content_type, expires_at)
      VALUES (${key}, ${bytes}, ${etag}, ${null}, now() + ${null}::float8 * interval '1 second')
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = excluded.etag,
        content_type = excluded.content_type, expires_at = excluded.expires_at
      WHERE NOT ${false}::boolean OR (s.expires_at IS NOT NULL AND s.expires_at <= now())`;
    const rows = await sql`SELECT key, value, etag, content_type, (extract(epoch from expires_at) * 1000)::float8 AS expires_ms
      FROM ${t} WHERE key = ${key} AND (expires_at IS NULL OR expires_at > now())`;
    if (rows.length !== 1) throw new Error("get: missing");
  };
}

/** The plugin's write (last-write upsert) and read scripts, sent by ioredis as EVALSHA like the plugin's. */
function directRedis(redis: Redis, prefix: string): Pair {
  redis.defineCommand("benchWrite", { lua: WRITE, numberOfKeys: 1 });
  redis.defineCommand("benchRead", { lua: READ, numberOfKeys: 1 });
  const r = redis as Redis & { benchWrite(...a: (string | Buffer)[]): Promise<number>; benchReadBuffer(k: string): Promise<unknown> };
  return async (c, i) => {
    const key = `${prefix}k${c}-${i % KEYS_PER_CLIENT}`;
    const ver = String(1 + Math.floor(Math.random() * 2 ** 48));
    await r.benchWrite(key, "set", "", Buffer.from(JSON.stringify(value(c, i))), "0", "0", ver, "");
    if (!(await r.benchReadBuffer(key))) throw new Error("get: missing");
  };
}

interface Row { backend: string; direct: number; http: number; grpc: number; sdk: number; target: number }
const rows: Row[] = [];

async function benchSqlite() {
  const sidecar = await startSidecar({ args: ["--enable-metrics", "false"] });
  const dir = mkdtempSync(join(tmpdir(), "rapr-bench-sqlite-"));
  const store = (await stateSqlite.create(parseMetadata(stateSqlite.metadata, { connectionString: "direct.sqlite" }), {
    name: "bench", appId: "bench", dataDir: dir, logger: silentLogger,
  })) as StateStore;
  try {
    const [direct, http, grpc, sdk] = await measure([inProcess(directStore(store)), inProcess(viaHttp(sidecar)), inProcess(viaGrpc(sidecar)), viaNodeSdkGrpc(sidecar)]);
    rows.push({ backend: "sqlite", direct, http, grpc, sdk, target: 0.5 });
  } finally {
    await store.close();
    await sidecar.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPostgres() {
  const table = uniqueTable("bench");
  const res = postgresResourcesDir({ table });
  const sidecar = await startSidecar({ args: ["--resources-path", res, "--enable-metrics", "false"] });
  const sql = postgres(PG_URL, { max: 10, onnotice: () => {} }); // the plugin's default maxConns
  try {
    await sidecar.http("/v1.0/state/statestore", { method: "POST", body: JSON.stringify([{ key: "init", value: 1 }]) });
    const [direct, http, grpc, sdk] = await measure([inProcess(directPostgres(sql, table)), inProcess(viaHttp(sidecar)), inProcess(viaGrpc(sidecar)), viaNodeSdkGrpc(sidecar)]);
    rows.push({ backend: "postgresql", direct, http, grpc, sdk, target: 0.8 });
  } finally {
    await sql.end({ timeout: 2 });
    await sidecar.stop();
    rmSync(res, { recursive: true, force: true });
    await dropTable(table);
  }
}

async function benchRedis() {
  const res = mkdtempSync(join(tmpdir(), "rapr-bench-redis-"));
  await Bun.write(join(res, "statestore.yaml"), componentYaml("statestore", "state.redis", { redisHost: REDIS_HOST }));
  const sidecar = await startSidecar({ args: ["--resources-path", res, "--enable-metrics", "false"] });
  const redis = new Redis(`redis://${REDIS_HOST}`, { enableAutoPipelining: true });
  const prefix = `bench-${Date.now().toString(36)}-`;
  const floorPort = await freePort();
  const floor = Bun.spawn([process.execPath, join(import.meta.dir, "state-redis-floor.ts")], {
    env: { ...process.env, PORT: String(floorPort), REDIS_HOST, PREFIX: `${prefix}floor||` }, stdout: "inherit", stderr: "inherit",
  });
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${floorPort}/`)).ok, "bench/state-redis-floor.ts", 15_000);
    const [direct, http, grpc, sdk, floorHttp] = await measure([
      inProcess(directRedis(redis, prefix)), inProcess(viaHttp(sidecar)), inProcess(viaGrpc(sidecar)), viaNodeSdkGrpc(sidecar), inProcess(viaHttp({ httpPort: floorPort })),
    ]);
    rows.push({ backend: "redis", direct, http, grpc, sdk, target: 0.8 });
    rows.push({ backend: "redis floor", direct, http: floorHttp, grpc: NaN, sdk: NaN, target: NaN });
  } finally {
    floor.kill();
    await floor.exited;
    for (const pattern of [`${prefix}*`, `${sidecar.appId}||k*`]) {
      const keys = await redis.keys(pattern);
      if (keys.length) await redis.del(...keys);
    }
    redis.disconnect();
    await sidecar.stop();
    rmSync(res, { recursive: true, force: true });
  }
}

console.log(`state bench: save+get pairs/s, ${CLIENTS} concurrent clients, ${SECONDS}s per case in ${ROUNDS} alternating rounds (median) after ${WARMUP}s warm-up, ${navigator.hardwareConcurrency} cpus`);
if (BACKENDS.includes("sqlite")) await benchSqlite();
if (BACKENDS.includes("postgresql")) await benchPostgres();
if (BACKENDS.includes("redis")) await benchRedis();
const f = (n: number) => Math.round(n).toString().padStart(8);
const r = (n: number) => `${n.toFixed(2)}x`.padStart(7);
console.log("HTTP: Bun fetch; gRPC: Connect client on Bun's HTTP/2; SDK gRPC: @dapr/dapr DaprClient on Node (its own process)");
console.log("backend      direct     HTTP  HTTP/direct     gRPC  gRPC/direct  SDK gRPC  SDK/direct  target");
for (const x of rows) {
  if (Number.isNaN(x.grpc)) {
    console.log(`${x.backend.padEnd(10)} ${f(x.direct)} ${f(x.http)}      ${r(x.http / x.direct)}   (a bare Bun.serve process running the same scripts: rapr's HTTP is ${r(rows.find((y) => y.backend === "redis")!.http / x.http)} of it)`);
    continue;
  }
  console.log(`${x.backend.padEnd(10)} ${f(x.direct)} ${f(x.http)}      ${r(x.http / x.direct)} ${f(x.grpc)}      ${r(x.grpc / x.direct)}  ${f(x.sdk)}     ${r(x.sdk / x.direct)}  >= ${x.target}x`);
}
process.exit(0);
