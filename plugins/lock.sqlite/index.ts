// lock.sqlite: the embedded default lock store, on bun:sqlite. One row per held lock; taking a lock is one
// INSERT … ON CONFLICT DO UPDATE … WHERE expired, and SQLite runs one writer at a time, so of several sidecars
// sharing the file exactly one takes a free lock. Safe across the processes of one machine (WAL; busyTimeout is how
// long a writer waits for another); expiry reads each process's clock, which on one machine is the same clock.
// Not for a file on a network filesystem, whose locking SQLite cannot rely on.
import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { checkTryLock, checkUnlock, type LockStore, type TryLockRequest, type UnlockRequest, type UnlockStatus } from "../../src/components/contracts/lock.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { sqlitePath } from "../state.sqlite/index.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

class SqliteLockStore implements LockStore {
  private readonly stmt: Record<"take" | "release" | "held" | "sweep", Statement>;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly db: Database, table: string, private readonly name: string, cleanupMs: number) {
    db.run(`CREATE TABLE IF NOT EXISTS ${table} (
      resource_id TEXT NOT NULL PRIMARY KEY,
      lock_owner TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    )`);
    this.stmt = {
      take: db.prepare(`INSERT INTO ${table} (resource_id, lock_owner, expires_at) VALUES (?1, ?2, ?3)
        ON CONFLICT (resource_id) DO UPDATE SET lock_owner = excluded.lock_owner, expires_at = excluded.expires_at
        WHERE ${table}.expires_at <= ?4`),
      release: db.prepare(`DELETE FROM ${table} WHERE resource_id = ?1 AND lock_owner = ?2 AND expires_at > ?3`),
      held: db.prepare(`SELECT 1 FROM ${table} WHERE resource_id = ?1 AND expires_at > ?2`),
      sweep: db.prepare(`DELETE FROM ${table} WHERE expires_at <= ?1`),
    };
    this.sweeper = setInterval(() => {
      try {
        this.stmt.sweep.run(Date.now());
      } catch {
        // busy: the next sweep catches up
      }
    }, cleanupMs);
    this.sweeper.unref?.();
  }

  async tryLock(req: TryLockRequest): Promise<boolean> {
    checkTryLock(req, this.name);
    const now = Date.now();
    return this.stmt.take.run(req.resourceId, req.lockOwner, now + req.expiryInSeconds * 1000, now).changes === 1;
  }

  async unlock(req: UnlockRequest): Promise<UnlockStatus> {
    checkUnlock(req, this.name);
    // One transaction, so no other process's write falls between the delete and the look that explains it.
    return this.db.transaction((): UnlockStatus => {
      const now = Date.now();
      if (this.stmt.release.run(req.resourceId, req.lockOwner, now).changes === 1) return "SUCCESS";
      return this.stmt.held.get(req.resourceId, now) ? "LOCK_BELONGS_TO_OTHERS" : "LOCK_DOES_NOT_EXIST";
    }).immediate();
  }

  async close() {
    clearInterval(this.sweeper);
    // Prepared statements keep a database open past close(false): finalize them so a closed store answers nothing.
    for (const s of Object.values(this.stmt)) s.finalize();
    this.db.close(false);
  }
}

export default definePlugin({
  type: "lock.sqlite",
  versions: ["v1"],
  metadata: {
    /** A path (relative ones live in --data-dir), Dapr's "file:path?opts" form, or ":memory:" (one process only). */
    connectionString: field.string({ default: "lock.sqlite" }),
    tableName: field.string({ default: "locks" }),
    busyTimeout: field.duration({ default: 2000, aliases: ["timeout"] }),
    cleanupInterval: field.duration({ default: 3_600_000, min: 1000, aliases: ["cleanupIntervalInSeconds"] }),
  },
  async create(md, ctx) {
    if (!IDENT.test(md.tableName)) throw new Error(`metadata field "tableName": must be a SQL identifier, got "${md.tableName}"`);
    const path = sqlitePath(md.connectionString, ctx.dataDir);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { create: true, strict: false });
    try {
      db.run(`PRAGMA busy_timeout = ${Math.round(md.busyTimeout)}`);
      if (path !== ":memory:") db.run("PRAGMA journal_mode = WAL");
      return new SqliteLockStore(db, md.tableName, ctx.name, md.cleanupInterval);
    } catch (err) {
      db.close(false);
      throw err;
    }
  },
});
