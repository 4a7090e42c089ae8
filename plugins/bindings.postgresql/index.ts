// bindings.postgresql: an output binding that runs the app's SQL, as Dapr's PostgreSQL binding does.
// exec: metadata `sql` (+ optional `params`, a JSON array for $1..$n) → `rows-affected`; with no params it runs
// as a simple query, so one exec may hold several statements. query: → a JSON array of rows, each row an array
// of column values in column order (see types.ts for how values are written). close: closes the pool.
// Every request runs alone on a connection it reserves from the pool, so the app's SQL may hold BEGIN/COMMIT:
// afterwards a ROLLBACK (a no-op outside a transaction) puts the connection back as it was found, so a transaction
// the SQL left open or failed never reaches the next request. An aborted request still waiting for its connection
// never reaches the server (the connection, once it comes, goes straight back); one already running is cancelled
// on the server. Connections carry application_name "rapr:{app id}".
import postgres from "postgres";
import {
  BindingRequestError, unsupportedOperation,
  type BindingOperation, type BindingRequest, type BindingResponse, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { goDuration, rfc3339Nano } from "../../src/components/go-format.js";
import { parseJson } from "../../src/json.js";
import { field, MetadataError, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type Component, type PluginContext } from "../../src/components/plugin.js";
import { settlesWithin } from "../../src/resiliency/sleep.js";
import { parseConnectionString } from "./connection.js";
import { columnTypes, SESSION_PARAMETERS } from "./types.js";

/** How long the ROLLBACK after a request may take before the connection is treated as gone. */
const ROLLBACK_LIMIT_MS = 5_000;
/** postgres.js's and the socket's codes for a connection that is no longer there. */
const GONE = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNREFUSED"]);
const connectionGone = (err: unknown) => GONE.has((err as { code?: string })?.code ?? "");

const metadata = {
  connectionString: field.string({ required: true, sensitive: true, aliases: ["url"] }),
  /** Bounds connecting and the first ping, as Dapr's `timeout` does; unset: CONNECT_TIMEOUT_MS. */
  timeout: field.duration({ min: 1000, aliases: ["timeoutInSeconds"] }),
  maxConns: field.int({ min: 1 }),
  connectionMaxIdleTime: field.duration({ default: 300_000 }),
};
type Md = MetadataOf<typeof metadata>;
type Sql = postgres.Sql<{}>;

const OPERATIONS = ["exec", "query", "close"] as const;
const encoder = new TextEncoder();
/** How long init waits for a connection and the first ping when the metadata sets no `timeout`. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Rows as JSON; bytea columns become base64 strings, as Go encodes []byte. */
function rowsJson(rows: unknown[][]): Uint8Array {
  return encoder.encode(
    JSON.stringify(rows, function (this: Record<string, unknown>, key, value) {
      const raw = this[key];
      return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") : value;
    }),
  );
}

type Pending = postgres.PendingQuery<any> | postgres.PendingValuesQuery<any>;

/** How long close() lets running requests finish, and then the pool its connections. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Asks the server to cancel a running query; resolves once the cancel request has been answered (or after a
 * bound). postgres.js's query.cancel() drops the promise of its canceller, which is what says when.
 */
function cancelOnServer(query: Pending): Promise<void> {
  const q = query as unknown as { canceller?: ((q: unknown) => Promise<void>) | null; cancel(): unknown };
  if (typeof q.canceller !== "function") {
    q.cancel();
    return Promise.resolve();
  }
  const canceller = q.canceller;
  q.canceller = null;
  return settlesWithin(Promise.resolve(canceller(query)), CLOSE_GRACE_MS).then(() => {});
}

/**
 * An exec's rows-affected. pgx reports the last statement's command tag; postgres.js keeps the first count of a
 * run of statements without rows (INSERT; UPDATE → the INSERT's), so a multi-statement exec may differ (known gap).
 */
function rowsAffected(result: postgres.RowList<postgres.Row[]>): number {
  return result.count ?? 0;
}

function aborted(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("the operation was aborted", "AbortError");
}

class PostgresBinding implements Component, OutputBinding {
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Requests holding or waiting for a connection; close() lets them finish before it ends the pool. */
  private readonly inflight = new Set<Promise<unknown>>();

  private sql: Sql;

  constructor(private readonly openPool: () => Sql, private readonly name: string) {
    this.sql = openPool();
  }

  /**
   * A connection died under a request (the server restarted, an administrator ended it): postgres.js's pool then
   * hands the dead or half-reconnected connection to later reservations, which hang. A fresh pool replaces it; the
   * old one is ended at once (requests still on it fail, as they would have on the dead server).
   */
  private renew(broken: Sql): void {
    if (this.sql !== broken || this.closed) return;
    this.sql = this.openPool();
    void broken.end({ timeout: 0 }).catch(() => {});
  }

  private get where() {
    return `bindings.postgresql "${this.name}"`;
  }

  operations(): BindingOperation[] {
    return [...OPERATIONS];
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    if (req.operation === "close") {
      await this.close();
      return { data: new Uint8Array(0), metadata: {} };
    }
    if (req.operation !== "exec" && req.operation !== "query") {
      throw unsupportedOperation(this.where, req.operation, OPERATIONS);
    }
    if (this.closed) throw new BindingRequestError(`${this.where} is closed`);
    const text = req.metadata.sql;
    if (!text) throw new BindingRequestError(`${this.where}: metadata "sql" is required for operation "${req.operation}"`);
    const params = this.params(req.metadata.params);
    req.signal?.throwIfAborted();

    const startTime = Date.now();
    const started = performance.now();
    const response: BindingResponse = { data: new Uint8Array(0), metadata: { operation: req.operation, sql: text, "start-time": rfc3339Nano(startTime) } };
    if (req.operation === "exec") {
      const result = await this.run<postgres.RowList<postgres.Row[]>>(
        req,
        (conn) => (params.length ? conn.unsafe(text, params as postgres.ParameterOrJSON<never>[]) : conn.unsafe(text).simple()),
        true,
      );
      response.metadata["rows-affected"] = String(rowsAffected(result));
    } else {
      // Without params a query is a simple query too, which may hold a BEGIN: it is reset as an exec is.
      const rows = await this.run(req, (conn) => conn.unsafe(text, params as postgres.ParameterOrJSON<never>[]).values(), params.length === 0);
      response.data = rowsJson(rows as unknown as unknown[][]);
      response.contentType = "application/json";
    }
    response.metadata["end-time"] = rfc3339Nano(startTime + (performance.now() - started));
    response.metadata.duration = goDuration(performance.now() - started);
    return response;
  }

  private params(text: string | undefined): unknown[] {
    if (!text) return [];
    let parsed: unknown;
    try {
      parsed = parseJson(text);
    } catch (err) {
      throw new BindingRequestError(`${this.where}: metadata "params" must be a JSON array, got ${JSON.stringify(text)} (${(err as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new BindingRequestError(`${this.where}: metadata "params" must be a JSON array, got ${JSON.stringify(text)}`);
    return parsed;
  }

  /**
   * Runs one statement (or one simple query) on a connection reserved for it; SQL errors keep PostgreSQL's message.
   * An abort rejects at once: before the connection came, the connection goes back unused when it comes; while
   * the statement runs, it is cancelled on the server. With `reset`, a ROLLBACK follows the statement whatever
   * happened, so the connection goes back to the pool outside any transaction. The connection is released only
   * once all that is done (and any cancel request has been answered), whether or not the caller still waits.
   */
  private async run<T>(req: BindingRequest, build: (conn: postgres.ReservedSql<{}>) => Pending, reset: boolean): Promise<T> {
    const signal = req.signal;
    let gaveUp = false;
    let query: Pending | undefined;
    let handed = false;
    let settled = false;
    let cancelling: Promise<void> | undefined;
    const cancel = () => {
      if (query && handed && !settled && !cancelling) cancelling = cancelOnServer(query);
    };
    const work = (async () => {
      const pool = this.sql;
      const conn = await pool.reserve();
      // A connection that died under the request: no ROLLBACK (it would never settle), no release (the pool would
      // hand the dead connection on); the pool is replaced instead.
      let gone = false;
      try {
        if (gaveUp) return undefined as T; // nobody waits: nothing is run
        query = build(conn);
        query.execute();
        // The query reaches the connection one microtask after execute(); a cancel before that would leave the
        // reserved connection stalled, so an abort that came meanwhile is acted on now.
        await null;
        handed = true;
        if (gaveUp) cancel();
        try {
          return (await query) as T;
        } catch (err) {
          gone = connectionGone(err);
          throw err;
        } finally {
          settled = true;
          if (!gone && (reset || cancelling)) gone = !(await this.reset(conn, cancelling));
        }
      } finally {
        if (gone) this.renew(pool);
        else conn.release();
      }
    })();
    this.inflight.add(work);
    void work.catch(() => {}).finally(() => this.inflight.delete(work));
    let onAbort: (() => void) | undefined;
    const abort = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => {
        gaveUp = true;
        cancel();
        reject(aborted(signal));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([work, abort]);
    } catch (err) {
      if (signal?.aborted) throw aborted(signal);
      const pg = err as Error & { code?: string };
      const code = pg.code && /^[0-9A-Z]{5}$/.test(pg.code) ? ` (SQLSTATE ${pg.code})` : pg.code ? ` (${pg.code})` : "";
      throw new Error(`${this.where}: ${req.operation} failed: ${pg.message}${code}`, { cause: err });
    } finally {
      if (onAbort) signal!.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Ends any transaction the app's SQL left open or failed. A cancel request may still be on its way when the
   * statement ends, and might stop the ROLLBACK instead (a cancel that finds the connection idle does nothing):
   * wait for it to be answered, and roll back once more if the first ROLLBACK was cancelled. False when the
   * connection turned out to be gone (or did not answer the ROLLBACK in time): it is not to be released.
   */
  private async reset(conn: postgres.ReservedSql<{}>, cancelling: Promise<void> | undefined): Promise<boolean> {
    await cancelling;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const rolledBack = conn.unsafe("ROLLBACK").simple().then(() => true);
        if (!(await settlesWithin(rolledBack, ROLLBACK_LIMIT_MS))) return false;
        await rolledBack;
        return true;
      } catch (err) {
        if (connectionGone(err)) return false;
        if ((err as { code?: string }).code !== "57014") return true; // answered: the connection is usable
      }
    }
    return true;
  }

  async ping() {
    await this.sql`SELECT 1`;
  }

  /**
   * Every caller, concurrent ones included, resolves once the pool is closed. Requests already accepted finish
   * first (for up to 2 s): a reserved connection released after the pool began ending would go back to it.
   */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      await settlesWithin(Promise.allSettled([...this.inflight]), CLOSE_GRACE_MS);
      await this.sql.end({ timeout: CLOSE_GRACE_MS / 1000 });
    })();
    return this.closing;
  }

  /** Closes at once, without waiting for connections still being opened (an init that gave up). */
  abandon(): Promise<void> {
    this.closed = true;
    this.closing ??= this.sql.end({ timeout: 0 });
    return this.closing;
  }
}

export async function openPostgresBinding(md: Md, ctx: Pick<PluginContext, "name" | "appId" | "logger">): Promise<PostgresBinding> {
  let conn;
  try {
    conn = parseConnectionString(md.connectionString);
  } catch (err) {
    throw new MetadataError("connectionString", `metadata field "connectionString": ${(err as Error).message}`);
  }
  if (conn.ignored.length) ctx.logger.warn("connection string keywords ignored", { component: ctx.name, keywords: conn.ignored.join(",") });
  const timeout = md.timeout ?? CONNECT_TIMEOUT_MS;
  const options: postgres.Options<typeof columnTypes> = {
    onnotice: () => {},
    ...conn.options,
    max: md.maxConns ?? conn.options.max ?? 10,
    idle_timeout: md.connectionMaxIdleTime / 1000,
    connect_timeout: conn.options.connect_timeout || timeout / 1000,
    connection: { application_name: `rapr:${ctx.appId}`, ...conn.options.connection, ...SESSION_PARAMETERS },
    types: columnTypes,
  };
  const url = conn.url;
  const binding = new PostgresBinding(() => (url ? postgres(url, options) : postgres(options)) as unknown as Sql, ctx.name);
  try {
    const pinging = binding.ping();
    if (!(await settlesWithin(pinging, timeout))) throw new Error(`no answer within ${timeout}ms (timeout)`);
    await pinging; // settled: its error, if any
  } catch (err) {
    await binding.abandon().catch(() => {});
    throw new Error(`cannot reach PostgreSQL: ${(err as Error).message}`);
  }
  return binding;
}

const plugin = definePlugin({
  type: "bindings.postgresql",
  versions: ["v1"],
  metadata,
  create: (md, ctx) => openPostgresBinding(md, ctx),
});
export default plugin;

/** Dapr registers this binding under both names. */
export const bindingsPostgresAlias = definePlugin({ ...plugin, type: "bindings.postgres" });
