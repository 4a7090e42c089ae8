// Lock benchmark: successful acquisitions (try-lock then unlock) per second under contention from 3 holders: 3
// sidecars (HTTP /v1.0-alpha1/lock and /unlock, lock.redis with keyPrefix "name" so they share the locks), 3
// lock.redis components in this process (their own connections, as the conformance suite creates them), and 3 raw
// ioredis clients doing the same SET NX PX and owner-checked DEL script, in alternating rounds of one run.
//   bun bench/lock.ts [--seconds 6] [--rounds 3] [--resources 4] [--loops 8]
// Every loop picks one of --resources lock names at random, so holders collide; failed attempts are counted apart.
import { Redis } from "ioredis";
import lockRedis from "../plugins/lock.redis/index.js";
import type { LockStore } from "../src/components/contracts/lock.js";
import { parseMetadata } from "../src/components/metadata-schema.js";
import { silentLogger } from "../src/observability/logger.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REDIS_HOST } from "../test/support/backends.js";
import { componentYaml } from "../test/support/components.js";
import { startSidecar, type Sidecar } from "../test/support/sidecar.js";
import { flagNumber } from "./flags.js";
import { percentile } from "./measure.js";

const SECONDS = flagNumber("seconds", 6);
const ROUNDS = flagNumber("rounds", 3);
const RESOURCES = flagNumber("resources", 4);
const LOOPS = flagNumber("loops", 8);
const HOLDERS = 3;
const PREFIX = `bench-lock-${Date.now().toString(36)}-`;
const UNLOCK = `local v = redis.call("get",KEYS[1]); if v==false then return -1 end; if v~=ARGV[1] then return -2 else return redis.call("del",KEYS[1]) end`;

/** One holder's attempt on a resource: true when it took the lock (and released it). */
type Attempt = (resource: string, owner: string) => Promise<boolean>;

async function run(holders: Attempt[], seconds: number): Promise<{ acquired: number; refused: number }> {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let acquired = 0, refused = 0;
  await Promise.all(holders.flatMap((attempt, h) => Array.from({ length: LOOPS }, async (_, l) => {
    const owner = `holder${h}-loop${l}`;
    while (performance.now() < deadline) {
      if (await attempt(`${PREFIX}r${Math.floor(Math.random() * RESOURCES)}`, owner)) acquired++;
      else refused++;
    }
  })));
  const s = (performance.now() - started) / 1000;
  return { acquired: acquired / s, refused: refused / s };
}

function viaComponent(store: LockStore): Attempt {
  return async (resourceId, lockOwner) => {
    if (!(await store.tryLock({ resourceId, lockOwner, expiryInSeconds: 10 }))) return false;
    if ((await store.unlock({ resourceId, lockOwner })) !== "SUCCESS") throw new Error("unlock failed");
    return true;
  };
}

function viaSidecar(sidecar: Sidecar): Attempt {
  const base = `http://127.0.0.1:${sidecar.httpPort}/v1.0-alpha1`;
  const post = async (path: string, body: object) => {
    const res = await fetch(`${base}/${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<{ success?: boolean; status?: number }>;
  };
  return async (resourceId, lockOwner) => {
    if (!(await post("lock/lockstore", { resourceId, lockOwner, expiryInSeconds: 10 })).success) return false;
    if ((await post("unlock/lockstore", { resourceId, lockOwner })).status !== 0) throw new Error("unlock failed");
    return true;
  };
}

function viaRaw(redis: Redis): Attempt {
  redis.defineCommand("benchUnlock", { lua: UNLOCK, numberOfKeys: 1 });
  const r = redis as Redis & { benchUnlock(key: string, owner: string): Promise<number> };
  return async (key, owner) => {
    if ((await redis.set(key, owner, "PX", 10_000, "NX")) !== "OK") return false;
    if ((await r.benchUnlock(key, owner)) !== 1) throw new Error("unlock failed");
    return true;
  };
}

const stores = await Promise.all(Array.from({ length: HOLDERS }, (_, i) =>
  lockRedis.create(parseMetadata(lockRedis.metadata, { redisHost: REDIS_HOST }), { name: `lock${i}`, appId: "bench", dataDir: "/tmp", logger: silentLogger }) as Promise<LockStore>));
const clients = Array.from({ length: HOLDERS }, () => new Redis(`redis://${REDIS_HOST}`, { enableAutoPipelining: true }));
const res = mkdtempSync(join(tmpdir(), "rapr-bench-lock-"));
writeFileSync(join(res, "lock.yaml"), componentYaml("lockstore", "lock.redis", { redisHost: REDIS_HOST, keyPrefix: "name" }));
const sidecars = await Promise.all(Array.from({ length: HOLDERS }, () => startSidecar({ args: ["--resources-path", res, "--enable-metrics", "false", "--log-level", "error"] })));
const cases = { raw: clients.map(viaRaw), component: stores.map(viaComponent), sidecar: sidecars.map(viaSidecar) };
type Rate = { acquired: number; refused: number };
const results: Record<keyof typeof cases, Rate[]> = { raw: [], component: [], sidecar: [] };
try {
  for (const holders of Object.values(cases)) await run(holders, 1); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, holders] of Object.entries(cases)) results[name as keyof typeof results].push(await run(holders, SECONDS / ROUNDS));
  }
} finally {
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(sidecars.map((s) => s.stop()));
  rmSync(res, { recursive: true, force: true });
  const keys = [...await clients[0].keys(`${PREFIX}*`), ...await clients[0].keys(`lock||lockstore||${PREFIX}*`)];
  if (keys.length) await clients[0].del(...keys);
  for (const c of clients) c.disconnect();
}
const med = (xs: Rate[], k: keyof Rate) => percentile(xs.map((x) => x[k]), 50);
console.log(`lock bench on Redis (${REDIS_HOST}): ${HOLDERS} holders × ${LOOPS} loops over ${RESOURCES} lock names, ${SECONDS}s in ${ROUNDS} alternating rounds (medians), ${navigator.hardwareConcurrency} cpus`);
for (const [name, label] of [["raw", "raw ioredis (SET NX PX + unlock script)"], ["component", "lock.redis components (in-process)"], ["sidecar", "3 sidecars over HTTP"]] as const) {
  console.log(`  ${label.padEnd(42)} acquisitions ${med(results[name], "acquired").toFixed(0)}/s, refused attempts ${med(results[name], "refused").toFixed(0)}/s`);
}
const ratio = (k: keyof typeof cases) => `${(med(results[k], "acquired") / med(results.raw, "acquired")).toFixed(2)}x`;
console.log(`  ratio to raw: components ${ratio("component")}, sidecars ${ratio("sidecar")}`);
process.exit(0);
