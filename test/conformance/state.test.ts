// The StateStore conformance suite (src/conformance/state.ts) against every built-in state plugin (real PostgreSQL and
// Redis included). Each built-in pins all four features.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import stateInMemory from "../../plugins/state.in-memory/index.js";
import statePostgresql from "../../plugins/state.postgresql/index.js";
import stateRedis from "../../plugins/state.redis/index.js";
import stateSqlite from "../../plugins/state.sqlite/index.js";
import type { StateStore } from "../../src/components/contracts/state.js";
import { createComponent } from "../../src/conformance/harness.js";
import { describeStateConformance, STATE_FEATURES } from "../../src/conformance/state.js";
import { missing, PG_URL, REDIS_HOST } from "../support/backends.js";

const opts = { expectFeatures: [...STATE_FEATURES] };
const ctx = { name: "statestore" };

await describeStateConformance("state.in-memory", async () => ({ component: await createComponent<StateStore>(stateInMemory, {}, ctx) }), opts);

await describeStateConformance("state.sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rapr-conf-sqlite-"));
  const store = await createComponent<StateStore>(stateSqlite, { connectionString: "conformance.db" }, { ...ctx, dataDir: dir });
  return {
    component: store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}, opts);

await describeStateConformance("state.postgresql", async () => {
  const table = `conf_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const store = await createComponent<StateStore>(statePostgresql, { connectionString: PG_URL, tableName: table, timeout: "5s" }, ctx);
  return {
    component: store,
    async cleanup() {
      await store.close();
      const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
      await sql.unsafe(`DROP TABLE IF EXISTS "${table}"`);
      await sql.end({ timeout: 2 });
    },
  };
}, { ...opts, skip: await missing("postgres") });

await describeStateConformance("state.redis", async () => ({
  component: await createComponent<StateStore>(stateRedis, { redisHost: REDIS_HOST, redisPassword: "" }, ctx),
}), { ...opts, skip: await missing("redis") });
