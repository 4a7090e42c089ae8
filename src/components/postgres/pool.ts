// The PostgreSQL connection of the lock and configuration components: Dapr's metadata names
// (common/authentication/postgresql in components-contrib), a URL or libpq's keyword/value connection string
// (plugins/bindings.postgresql/connection.ts reads both), on the `postgres` package.
import postgres from "postgres";
import { parseConnectionString } from "../../../plugins/bindings.postgresql/connection.js";
import { field, MetadataError, type MetadataOf } from "../metadata-schema.js";

export type Sql = postgres.Sql<{}>;

export const postgresConnectionMetadata = {
  connectionString: field.string({ required: true, sensitive: true }),
  /** Bounds every database call, as Dapr's `timeout` (20 s, at least 1 s). */
  timeout: field.duration({ default: 20_000, min: 1000, aliases: ["timeoutInSeconds"] }),
  /** 0 or lower: 10. */
  maxConns: field.int({ default: 0 }),
  connectionMaxIdleTime: field.duration({ default: 300_000, aliases: ["connMaxIdleTime"] }),
  useAzureAD: field.bool({ default: false }),
  useAWSIAM: field.bool({ default: false }),
};
export type PostgresConnectionMetadata = MetadataOf<typeof postgresConnectionMetadata>;

/** A pool as the metadata says (connections open on first use). */
export function openPostgres(md: PostgresConnectionMetadata, appId: string): Sql {
  if (md.useAzureAD || md.useAWSIAM) {
    const name = md.useAzureAD ? "useAzureAD" : "useAWSIAM";
    throw new MetadataError(name, `metadata field "${name}": cloud token authentication is not supported; put a password in connectionString`);
  }
  let conn;
  try {
    conn = parseConnectionString(md.connectionString);
  } catch (err) {
    throw new MetadataError("connectionString", `metadata field "connectionString": ${(err as Error).message}`);
  }
  const options: postgres.Options<{}> = {
    ...conn.options,
    max: conn.options.max ?? (md.maxConns > 0 ? md.maxConns : 10),
    idle_timeout: md.connectionMaxIdleTime > 0 ? md.connectionMaxIdleTime / 1000 : undefined,
    connect_timeout: md.timeout / 1000,
    // postgres.js waits up to 20 s before reconnecting after failures: cap it so calls fail and recover fast.
    backoff: (retries: number) => Math.min(0.05 * retries, 0.5),
    onnotice: () => {},
    connection: { application_name: `rapr:${appId}`, ...conn.options.connection },
  };
  return conn.url ? postgres(conn.url, options) : postgres(options);
}

/**
 * `work`, failed when it has not settled within `ms`: a server that stops answering (a partition, a host gone
 * without resetting its connections) fails the call instead of hanging it.
 */
export async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${ms}ms (timeout)`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A table name, optionally "schema.table", as PostgreSQL reads it unquoted (folded to lower case, as Dapr's SQL
 * holds it); pass the result to sql(…), which quotes each part.
 */
export function tableIdentifier(field: string, value: string): string {
  const parts = value.split(".");
  if (parts.length > 2 || !parts.every((p) => /^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(p))) {
    throw new MetadataError(field, `metadata field "${field}": must be a table name, optionally "schema.table", got "${value}"`);
  }
  return value.toLowerCase();
}
