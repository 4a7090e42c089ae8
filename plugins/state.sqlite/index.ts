// state.sqlite: bun:sqlite in WAL mode; the embedded default "statestore".
import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import type {
  DeleteRequest, Query, SetRequest, StateFeature, StateItem, StateStore, TransactionOperation,
} from "../../src/components/contracts/state.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { newEtag } from "../../src/components/state/etag.js";
import { filterToSql, nextToken, orderToSql, pageOf, prefixEnd, type SqlDialect } from "../../src/components/state/query-sql.js";
import { EtagMismatchError } from "../../src/errors.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

type Row = { key: string; value: Uint8Array; etag: string; expires_at: number | null; content_type: string | null };

const sqliteDialect: SqlDialect = {
  jsonAt: (path) => `json_extract(CAST(value AS TEXT), '$.${path.map((p) => `"${p}"`).join(".")}')`,
  placeholder: (n) => `?${n}`,
  param: (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v),
};

class SqliteStateStore implements StateStore {
  private readonly stmt: Record<"get" | "upsert" | "insertOnly" | "updateIfEtag" | "delete" | "deleteIfEtag" | "sweep", Statement>;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly runTransaction: (ops: TransactionOperation[]) => void;

  constructor(private readonly db: Database, private readonly table: string, cleanupIntervalMs: number) {
    db.run(`CREATE TABLE IF NOT EXISTS ${table} (
      key TEXT NOT NULL PRIMARY KEY,
      value BLOB NOT NULL,
      etag TEXT NOT NULL,
      expires_at INTEGER,
      content_type TEXT
    )`);
    db.run(`CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at) WHERE expires_at IS NOT NULL`);
    const live = `(expires_at IS NULL OR expires_at > ?7)`;
    const cols = "key, value, etag, expires_at, content_type";
    this.stmt = {
      get: db.prepare(`SELECT ${cols} FROM ${table} WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)`),
      upsert: db.prepare(`INSERT INTO ${table} (${cols}) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value, etag = excluded.etag, expires_at = excluded.expires_at, content_type = excluded.content_type`),
      insertOnly: db.prepare(`INSERT INTO ${table} (${cols}) VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value, etag = excluded.etag, expires_at = excluded.expires_at, content_type = excluded.content_type
        WHERE NOT ${live.replace("?7", "?6")}`),
      updateIfEtag: db.prepare(`UPDATE ${table} SET value = ?2, etag = ?3, expires_at = ?4, content_type = ?5 WHERE key = ?1 AND etag = ?6 AND ${live}`),
      delete: db.prepare(`DELETE FROM ${table} WHERE key = ?1`),
      deleteIfEtag: db.prepare(`DELETE FROM ${table} WHERE key = ?1 AND etag = ?2 AND (expires_at IS NULL OR expires_at > ?3)`),
      sweep: db.prepare(`DELETE FROM ${table} WHERE expires_at IS NOT NULL AND expires_at <= ?1`),
    };
    this.runTransaction = db.transaction((ops: TransactionOperation[]) => {
      for (const op of ops) this.applyOne(op);
    });
    this.sweeper = setInterval(() => this.stmt.sweep.run(Date.now()), cleanupIntervalMs);
    this.sweeper.unref?.();
  }

  features(): StateFeature[] {
    return ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
  }

  private toItem(row: Row | null): StateItem | undefined {
    if (!row) return undefined;
    return {
      key: row.key,
      value: row.value,
      etag: row.etag,
      expiresAt: row.expires_at ?? undefined,
      contentType: row.content_type ?? undefined,
    };
  }

  async get(key: string) {
    return this.toItem(this.stmt.get.get(key, Date.now()) as Row | null);
  }

  async bulkGet(keys: string[]) {
    const now = Date.now();
    return keys.map((k) => this.toItem(this.stmt.get.get(k, now) as Row | null));
  }

  private applyOne(op: TransactionOperation) {
    const now = Date.now();
    if (op.op === "delete") {
      if (op.etag) {
        if (this.stmt.deleteIfEtag.run(op.key, op.etag, now).changes === 0) throw new EtagMismatchError(op.key);
      } else {
        this.stmt.delete.run(op.key);
      }
      return;
    }
    const expires = op.ttlInSeconds ? now + op.ttlInSeconds * 1000 : null;
    const row = [op.key, op.value, newEtag(), expires, op.contentType ?? null] as const;
    if (op.etag) {
      if (this.stmt.updateIfEtag.run(...row, op.etag, now).changes === 0) throw new EtagMismatchError(op.key);
    } else if (op.concurrency === "first-write") {
      if (this.stmt.insertOnly.run(...row, now).changes === 0) throw new EtagMismatchError(op.key);
    } else {
      this.stmt.upsert.run(...row);
    }
  }

  async set(req: SetRequest) {
    this.applyOne({ op: "upsert", ...req });
  }

  async delete(req: DeleteRequest) {
    this.applyOne({ op: "delete", ...req });
  }

  async transact(ops: TransactionOperation[]) {
    this.runTransaction(ops);
  }

  async query(q: Query) {
    const params: unknown[] = [q.keyPrefix, prefixEnd(q.keyPrefix), Date.now()];
    let where = `key >= ?1 AND key < ?2 AND (expires_at IS NULL OR expires_at > ?3) AND json_valid(CAST(value AS TEXT))`;
    if (q.filter) where += ` AND ${filterToSql(q.filter, sqliteDialect, params)}`;
    const { limit, offset } = pageOf(q);
    params.push(limit ?? -1, offset);
    const sql = `SELECT key, value, etag, expires_at, content_type FROM ${this.table} WHERE ${where} ${orderToSql(q, sqliteDialect)} LIMIT ?${params.length - 1} OFFSET ?${params.length}`;
    const rows = this.db.prepare(sql).all(...(params as any[])) as Row[];
    return { results: rows.map((r) => this.toItem(r)!), token: nextToken(q, rows.length) };
  }

  async ping() {
    this.db.prepare("SELECT 1").get();
  }

  async close() {
    clearInterval(this.sweeper);
    // Prepared statements keep a database open past close(false): finalize them so a closed store answers nothing.
    for (const s of Object.values(this.stmt)) s.finalize();
    this.db.close(false);
  }
}

export default definePlugin({
  type: "state.sqlite",
  metadata: {
    connectionString: field.string({ default: "state.sqlite" }),
    tableName: field.string({ default: "state" }),
    busyTimeout: field.duration({ default: 2000, aliases: ["timeout"] }),
    cleanupInterval: field.duration({ default: 3_600_000, min: 1000, aliases: ["cleanupIntervalInSeconds"] }),
    disableWAL: field.bool({ default: false }),
  },
  async create(meta, ctx) {
    if (!IDENT.test(meta.tableName)) throw new Error(`metadata field "tableName": must be a SQL identifier, got "${meta.tableName}"`);
    const path = sqlitePath(meta.connectionString, ctx.dataDir);
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { create: true, strict: false });
    db.run(`PRAGMA busy_timeout = ${Math.round(meta.busyTimeout)}`);
    if (!meta.disableWAL && path !== ":memory:") db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = NORMAL");
    return new SqliteStateStore(db, meta.tableName, meta.cleanupInterval);
  },
});

/** Accepts a plain path, "file:path?opts" (Dapr's form) or ":memory:"; relative paths live in --data-dir. */
export function sqlitePath(conn: string, dataDir: string): string {
  let p = conn.startsWith("file:") ? conn.slice(5).split("?")[0] : conn;
  if (p === ":memory:" || p === "") return ":memory:";
  return isAbsolute(p) ? p : join(dataDir, p);
}
