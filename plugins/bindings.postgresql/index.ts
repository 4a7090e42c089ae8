// bindings.postgresql: an output binding that runs the app's SQL, as Dapr's PostgreSQL binding does.
// exec: metadata `sql` (+ optional `params`, a JSON array for $1..$n) → `rows-affected`; with no params it runs
// as a simple query, so one exec may hold several statements. query: → a JSON array of rows, each row an array
// of column values in column order (see types.ts for how values are written). close: closes the pool.
// An aborted request that has not reached the server yet never will: queries queue in the pool, not behind a busy
// connection (no pipelining), so cancelling one removes it. Connections carry application_name "rapr:{app id}".
import postgres from "postgres";
import {
  BindingRequestError, unsupportedOperation,
  type BindingOperation, type BindingRequest, type BindingResponse, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { goDuration, rfc3339Nano } from "../../src/components/go-format.js";
import { field, MetadataError, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type Component, type PluginContext } from "../../src/components/plugin.js";
import { parseConnectionString } from "./connection.js";
import { columnTypes, SESSION_PARAMETERS } from "./types.js";

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

function aborted(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException("the operation was aborted", "AbortError");
}

class PostgresBinding implements Component, OutputBinding {
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly sql: Sql, private readonly name: string) {}

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
      const query = params.length ? this.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]) : this.sql.unsafe(text).simple();
      const result = await this.run<postgres.RowList<postgres.Row[]>>(query, req);
      response.metadata["rows-affected"] = String(result.count ?? 0);
    } else {
      const rows = await this.run(this.sql.unsafe(text, params as postgres.ParameterOrJSON<never>[]).values(), req);
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
      parsed = JSON.parse(text);
    } catch (err) {
      throw new BindingRequestError(`${this.where}: metadata "params" must be a JSON array, got ${JSON.stringify(text)} (${(err as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new BindingRequestError(`${this.where}: metadata "params" must be a JSON array, got ${JSON.stringify(text)}`);
    return parsed;
  }

  /** Runs a query; an abort cancels it on the server and rejects at once. SQL errors keep PostgreSQL's message. */
  private async run<T>(query: postgres.PendingQuery<any> | postgres.PendingValuesQuery<any>, req: BindingRequest): Promise<T> {
    const signal = req.signal;
    query.execute();
    // postgres.js hands a query to its pool one microtask after execute(). A cancel() before that marks the query
    // cancelled without taking it out of anything; the pool queues it all the same, and the connection that picks
    // it up later stalls for good (postgres.js 3.4). So an abort is acted on once the pool has the query: cancel()
    // then takes it out of the pool's queue, or stops it on the server.
    if (signal) await Promise.resolve();
    let onAbort: (() => void) | undefined;
    const abort = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => {
        query.cancel();
        reject(aborted(signal));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return (await Promise.race([query, abort])) as T;
    } catch (err) {
      if (signal?.aborted) throw aborted(signal);
      const pg = err as Error & { code?: string };
      throw new Error(`${this.where}: ${req.operation} failed: ${pg.message}${pg.code ? ` (SQLSTATE ${pg.code})` : ""}`, { cause: err });
    } finally {
      if (onAbort) signal!.removeEventListener("abort", onAbort);
      query.catch(() => {}); // a query cancelled after an abort rejects later, unobserved
    }
  }

  async ping() {
    await this.sql`SELECT 1`;
  }

  /** Every caller, concurrent ones included, resolves once the pool is closed. */
  close(): Promise<void> {
    return this.end(2);
  }

  /** Closes at once, without waiting for connections still being opened (an init that gave up). */
  abandon(): Promise<void> {
    return this.end(0);
  }

  private end(timeoutSeconds: number): Promise<void> {
    this.closed = true;
    this.closing ??= this.sql.end({ timeout: timeoutSeconds });
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
    // A query waits in the pool's queue until a connection is free, where an abort can still take it back;
    // pipelined behind a busy connection it would already be on its way to the server. (An option postgres.js's
    // types do not declare.)
    ...({ max_pipeline: 0 } as {}),
    idle_timeout: md.connectionMaxIdleTime / 1000,
    connect_timeout: conn.options.connect_timeout || timeout / 1000,
    connection: { application_name: `rapr:${ctx.appId}`, ...conn.options.connection, ...SESSION_PARAMETERS },
    types: columnTypes,
  };
  const sql = (conn.url ? postgres(conn.url, options) : postgres(options)) as unknown as Sql;
  const binding = new PostgresBinding(sql, ctx.name);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      binding.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeout}ms (timeout)`)), timeout);
      }),
    ]);
  } catch (err) {
    await binding.abandon().catch(() => {});
    throw new Error(`cannot reach PostgreSQL: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
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
