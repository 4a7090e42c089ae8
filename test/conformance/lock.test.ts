// The LockStore conformance suite (src/conformance/lock.ts) against every built-in lock plugin (real Redis and
// PostgreSQL included).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import lockPostgresql from "../../plugins/lock.postgresql/index.js";
import lockRedis from "../../plugins/lock.redis/index.js";
import lockSqlite from "../../plugins/lock.sqlite/index.js";
import type { LockStore } from "../../src/components/contracts/lock.js";
import { createComponent } from "../../src/conformance/harness.js";
import { describeLockConformance } from "../../src/conformance/lock.js";
import { missing, PG_URL, REDIS_HOST } from "../support/backends.js";
import { dropTable, uniqueTable } from "../support/postgres.js";

const ctx = { name: "lockstore" };

describeLockConformance("lock.sqlite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rapr-conf-lock-"));
  return {
    open: () => createComponent<LockStore>(lockSqlite, { connectionString: "locks.db" }, { ...ctx, dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeLockConformance("lock.redis", async () => ({ open: () => createComponent<LockStore>(lockRedis, { redisHost: REDIS_HOST }, ctx) }), {
  skip: await missing("redis"),
});

describeLockConformance("lock.postgresql", async () => {
  const table = uniqueTable("conf_lock");
  return {
    open: () => createComponent<LockStore>(lockPostgresql, { connectionString: PG_URL, tableName: table, timeout: "5s" }, ctx),
    cleanup: () => dropTable(table),
  };
}, { skip: await missing("postgres") });
