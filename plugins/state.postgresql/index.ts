// state.postgresql: the `postgres` package against a real server; table and helper function created on first use.
import postgres from "postgres";
import type {
  DeleteRequest, Query, SetRequest, StateFeature, StateItem, StateStore, TransactionOperation,
} from "../../src/components/contracts/state.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { newEtag } from "../../src/components/state/etag.js";
import { filterToSql, nextToken, orderToSql, pageOf, type SqlDialect } from "../../src/components/state/query-sql.js";
import { EtagMismatchError } from "../../src/errors.js";

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
type Sql = postgres.Sql<{}>;
type Tx = postgres.TransactionSql<{}>;

const pgDialect: SqlDialect = {
  jsonAt: (path) => `(doc #> '{${path.map((p) => `"${p}"`).join(",")}}')`,
  // Bound as text and cast: postgres.js would JSON-encode a value it sees typed jsonb a second time.
  placeholder: (n) => `($${n}::text)::jsonb`,
  param: (v) => JSON.stringify(v),
};

interface Row {
  key: string;
  value: Buffer;
  etag: string;
  content_type: string | null;
  expires_ms: number | null;
}

const bytes = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

class PostgresStateStore implements StateStore {
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly sql: Sql, private readonly table: string, cleanupIntervalMs: number, private readonly timeoutMs: number) {
    this.sweeper = setInterval(() => {
      this.sql`DELETE FROM ${this.sql(this.table)} WHERE expires_at IS NOT NULL AND expires_at <= now()`.catch(() => {});
    }, cleanupIntervalMs);
    this.sweeper.unref?.();
  }

  static async open(sql: Sql, table: string, cleanupIntervalMs: number, timeoutMs: number) {
    // Many sidecars may start at once against one database: serialize the DDL.
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext('rapr.state.schema'))`;
      await tx`CREATE TABLE IF NOT EXISTS ${tx(table)} (
        key text NOT NULL PRIMARY KEY,
        value bytea NOT NULL,
        etag text NOT NULL,
        expires_at timestamptz,
        content_type text
      )`;
      await tx`CREATE INDEX IF NOT EXISTS ${tx(`${table}_expires_at`)} ON ${tx(table)} (expires_at) WHERE expires_at IS NOT NULL`;
      await tx.unsafe(`CREATE OR REPLACE FUNCTION rapr_try_jsonb(b bytea) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
        BEGIN RETURN convert_from(b, 'UTF8')::jsonb; EXCEPTION WHEN others THEN RETURN NULL; END $f$`);
    });
    return new PostgresStateStore(sql, table, cleanupIntervalMs, timeoutMs);
  }

  features(): StateFeature[] {
    return ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
  }

  private toItem(r: Row): StateItem {
    return {
      key: r.key,
      value: r.value,
      etag: r.etag,
      contentType: r.content_type ?? undefined,
      expiresAt: r.expires_ms === null ? undefined : Math.round(Number(r.expires_ms)),
    };
  }

  private selectLive(sql: Sql | Tx, keys: string[]) {
    return sql<Row[]>`SELECT key, value, etag, content_type, (extract(epoch from expires_at) * 1000)::float8 AS expires_ms
      FROM ${sql(this.table)} WHERE key = ANY(${keys}::text[]) AND (expires_at IS NULL OR expires_at > now())`;
  }

  /**
   * Bounds an operation by the `timeout` metadata: a server that stops answering (a network partition, a host that
   * died without resetting its connections) fails the call instead of hanging it.
   */
  private async bounded<T>(work: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${this.timeoutMs}ms (timeout)`)), this.timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string) {
    const rows = await this.bounded(this.sql<Row[]>`SELECT key, value, etag, content_type, (extract(epoch from expires_at) * 1000)::float8 AS expires_ms
      FROM ${this.sql(this.table)} WHERE key = ${key} AND (expires_at IS NULL OR expires_at > now())`.execute());
    return rows.length ? this.toItem(rows[0]) : undefined;
  }

  async bulkGet(keys: string[]) {
    if (keys.length === 0) return [];
    const rows = await this.bounded(this.selectLive(this.sql, keys).execute());
    const byKey = new Map(rows.map((r) => [r.key, this.toItem(r)]));
    return keys.map((k) => byKey.get(k));
  }

  private async applyOne(sql: Sql | Tx, op: TransactionOperation) {
    const t = sql(this.table);
    if (op.op === "delete") {
      if (op.etag) {
        const r = await sql`DELETE FROM ${t} WHERE key = ${op.key} AND etag = ${op.etag} AND (expires_at IS NULL OR expires_at > now())`;
        if (r.count === 0) throw new EtagMismatchError(op.key);
      } else {
        await sql`DELETE FROM ${t} WHERE key = ${op.key}`;
      }
      return;
    }
    const value = bytes(op.value);
    const etag = newEtag();
    const ttl = op.ttlInSeconds ?? null;
    const ct = op.contentType ?? null;
    if (op.etag) {
      const r = await sql`UPDATE ${t} SET value = ${value}, etag = ${etag}, content_type = ${ct},
          expires_at = now() + ${ttl}::float8 * interval '1 second'
        WHERE key = ${op.key} AND etag = ${op.etag} AND (expires_at IS NULL OR expires_at > now())`;
      if (r.count === 0) throw new EtagMismatchError(op.key);
      return;
    }
    const onlyIfGone = op.concurrency === "first-write";
    const r = await sql`INSERT INTO ${t} AS s (key, value, etag, content_type, expires_at)
      VALUES (${op.key}, ${value}, ${etag}, ${ct}, now() + ${ttl}::float8 * interval '1 second')
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, etag = excluded.etag,
        content_type = excluded.content_type, expires_at = excluded.expires_at
      WHERE NOT ${onlyIfGone}::boolean OR (s.expires_at IS NOT NULL AND s.expires_at <= now())`;
    if (r.count === 0) throw new EtagMismatchError(op.key);
  }

  async set(req: SetRequest) {
    await this.bounded(this.applyOne(this.sql, { op: "upsert", ...req }));
  }

  async delete(req: DeleteRequest) {
    await this.bounded(this.applyOne(this.sql, { op: "delete", ...req }));
  }

  async transact(ops: TransactionOperation[]) {
    await this.bounded(this.sql.begin(async (tx) => {
      for (const op of ops) await this.applyOne(tx, op);
    }));
  }

  async query(q: Query) {
    const params: unknown[] = [q.keyPrefix];
    let where = "doc IS NOT NULL";
    if (q.filter) where += ` AND ${filterToSql(q.filter, pgDialect, params)}`;
    const { limit, offset } = pageOf(q);
    const text = `SELECT key, value, etag, content_type, expires_ms FROM (
        SELECT key, value, etag, content_type, (extract(epoch from expires_at) * 1000)::float8 AS expires_ms, rapr_try_jsonb(value) AS doc
        FROM "${this.table}" WHERE starts_with(key, $1) AND (expires_at IS NULL OR expires_at > now())
      ) s WHERE ${where} ${orderToSql(q, pgDialect)} ${limit ? `LIMIT ${limit}` : ""} OFFSET ${offset}`;
    const rows = (await this.bounded(this.sql.unsafe(text, params as any[]).execute())) as unknown as Row[];
    return { results: rows.map((r) => this.toItem(r)), token: nextToken(q, rows.length) };
  }

  async ping() {
    await this.bounded(this.sql`SELECT 1`.execute());
  }

  async close() {
    clearInterval(this.sweeper);
    await this.sql.end({ timeout: 2 });
  }
}

export default definePlugin({
  type: "state.postgresql",
  versions: ["v1", "v2"],
  metadata: {
    connectionString: field.string({ required: true, sensitive: true }),
    tableName: field.string({ default: "state" }),
    timeout: field.duration({ default: 20_000, min: 100, aliases: ["timeoutInSeconds"] }),
    cleanupInterval: field.duration({ default: 3_600_000, min: 1000, aliases: ["cleanupIntervalInSeconds"] }),
    maxConns: field.int({ default: 10, min: 1 }),
    connectionMaxIdleTime: field.duration({ default: 300_000 }),
  },
  async create(meta, ctx) {
    if (!IDENT.test(meta.tableName)) throw new Error(`metadata field "tableName": must be a SQL identifier, got "${meta.tableName}"`);
    const sql = postgres(meta.connectionString, {
      max: meta.maxConns,
      idle_timeout: meta.connectionMaxIdleTime / 1000,
      connect_timeout: meta.timeout / 1000,
      // postgres.js waits up to 20 s (3^retries / 100) before reconnecting after failures, so during an outage every
      // call stalls longer and recovery lags by as much; cap the wait so calls fail fast and come back fast.
      backoff: (retries: number) => Math.min(0.05 * retries, 0.5),
      onnotice: () => {},
      connection: { application_name: `rapr:${ctx.appId}` },
    });
    try {
      return await PostgresStateStore.open(sql, meta.tableName, meta.cleanupInterval, meta.timeout);
    } catch (err) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw err;
    }
  },
});
