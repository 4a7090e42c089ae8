// lock.postgresql: components-contrib has no PostgreSQL lock, so this design is rapr's own. One row per held lock
// (resource_id primary key, lock_owner, expires_at), the database's clock deciding expiry so sidecars with skewed
// clocks agree. Taking a lock is one INSERT … ON CONFLICT DO UPDATE … WHERE expired: PostgreSQL locks the row for a
// conflicting insert, so of many sidecars racing for a free or expired lock exactly one row count comes back 1.
// Unlocking deletes the row only for its owner while unexpired. Expired rows are swept every cleanupInterval.
import { checkTryLock, checkUnlock, type LockStore, type TryLockRequest, type UnlockRequest, type UnlockStatus } from "../../src/components/contracts/lock.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { openPostgres, postgresConnectionMetadata, tableIdentifier, within, type Sql } from "../../src/components/postgres/pool.js";

class PostgresLockStore implements LockStore {
  private readonly sweeper: ReturnType<typeof setInterval>;

  private constructor(private readonly sql: Sql, private readonly table: string, private readonly name: string, private readonly timeoutMs: number, cleanupMs: number) {
    this.sweeper = setInterval(() => {
      this.sql`DELETE FROM ${this.sql(this.table)} WHERE expires_at <= now()`.catch(() => {});
    }, cleanupMs);
    this.sweeper.unref?.();
  }

  static async open(sql: Sql, table: string, name: string, timeoutMs: number, cleanupMs: number) {
    // Sidecars starting together against one database: one of them creates the table, the others wait.
    await within(sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('rapr.lock.schema'))`;
      await tx`CREATE TABLE IF NOT EXISTS ${tx(table)} (
        resource_id text NOT NULL PRIMARY KEY,
        lock_owner text NOT NULL,
        expires_at timestamptz NOT NULL
      )`;
    }), timeoutMs);
    return new PostgresLockStore(sql, table, name, timeoutMs, cleanupMs);
  }

  async tryLock(req: TryLockRequest): Promise<boolean> {
    checkTryLock(req, this.name);
    const t = this.sql(this.table);
    const r = await within(this.sql`INSERT INTO ${t} AS l (resource_id, lock_owner, expires_at)
      VALUES (${req.resourceId}, ${req.lockOwner}, now() + ${req.expiryInSeconds}::bigint * interval '1 second')
      ON CONFLICT (resource_id) DO UPDATE SET lock_owner = excluded.lock_owner, expires_at = excluded.expires_at
      WHERE l.expires_at <= now()`.execute(), this.timeoutMs);
    return r.count === 1;
  }

  async unlock(req: UnlockRequest): Promise<UnlockStatus> {
    checkUnlock(req, this.name);
    const t = this.sql(this.table);
    const deleted = await within(this.sql`DELETE FROM ${t}
      WHERE resource_id = ${req.resourceId} AND lock_owner = ${req.lockOwner} AND expires_at > now()`.execute(), this.timeoutMs);
    if (deleted.count === 1) return "SUCCESS";
    const held = await within(this.sql`SELECT 1 FROM ${t} WHERE resource_id = ${req.resourceId} AND expires_at > now()`.execute(), this.timeoutMs);
    return held.length ? "LOCK_BELONGS_TO_OTHERS" : "LOCK_DOES_NOT_EXIST";
  }

  async ping() {
    await within(this.sql`SELECT 1`.execute(), this.timeoutMs);
  }

  async close() {
    clearInterval(this.sweeper);
    await this.sql.end({ timeout: 2 });
  }
}

export default definePlugin({
  type: "lock.postgresql",
  versions: ["v1"],
  metadata: {
    ...postgresConnectionMetadata,
    tableName: field.string({ default: "dapr_lock" }),
    cleanupInterval: field.duration({ default: 3_600_000, min: 1000, aliases: ["cleanupIntervalInSeconds"] }),
  },
  async create(md, ctx) {
    const table = tableIdentifier("tableName", md.tableName);
    const sql = openPostgres(md, ctx.appId);
    try {
      return await PostgresLockStore.open(sql, table, ctx.name, md.timeout, md.cleanupInterval);
    } catch (err) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw err;
    }
  },
});
