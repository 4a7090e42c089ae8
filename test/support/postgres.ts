// The test PostgreSQL server, and Component YAML that points a state store at it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { PG_URL } from "./backends.js";
import { componentYaml } from "./components.js";

export { PG_URL };

/** A table name no other test run uses. */
export function uniqueTable(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function dropTable(table: string, url = PG_URL): Promise<void> {
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    await sql.unsafe(`DROP TABLE IF EXISTS "${table}"`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** Writes a resources dir holding one state.postgresql component; returns the dir. */
export function postgresResourcesDir(opts: { name?: string; table: string; connectionString?: string; extra?: Record<string, string> }): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-pg-res-"));
  const meta: Record<string, string> = {
    connectionString: opts.connectionString ?? PG_URL,
    tableName: opts.table,
    ...opts.extra,
  };
  writeFileSync(join(dir, "statestore.yaml"), componentYaml(opts.name ?? "statestore", "state.postgresql", meta));
  return dir;
}

/**
 * A configuration table as Dapr documents it for configuration.postgresql (KEY, VALUE, VERSION, METADATA json),
 * with Dapr's trigger calling pg_notify(channel, {"table", "action", "data": row}) on every insert, update, delete.
 */
export async function createDaprConfigurationTable(table: string, channel: string, url = PG_URL): Promise<void> {
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    await sql.unsafe(`CREATE TABLE "${table}" (KEY VARCHAR NOT NULL, VALUE VARCHAR NOT NULL, VERSION VARCHAR NOT NULL, METADATA JSON)`);
    await sql.unsafe(`CREATE OR REPLACE FUNCTION "${table}_notify"() RETURNS TRIGGER AS $$
      DECLARE
        data json;
        notification json;
      BEGIN
        IF (TG_OP = 'DELETE') THEN data = row_to_json(OLD); ELSE data = row_to_json(NEW); END IF;
        notification = json_build_object('table', TG_TABLE_NAME, 'action', TG_OP, 'data', data);
        PERFORM pg_notify('${channel}', notification::text);
        RETURN NULL;
      END;
      $$ LANGUAGE plpgsql`);
    await sql.unsafe(`CREATE TRIGGER "${table}_config" AFTER INSERT OR UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE PROCEDURE "${table}_notify"()`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** Drops what createDaprConfigurationTable made. */
export async function dropDaprConfigurationTable(table: string, url = PG_URL): Promise<void> {
  const sql = postgres(url, { onnotice: () => {}, max: 1 });
  try {
    await sql.unsafe(`DROP TABLE IF EXISTS "${table}"`);
    await sql.unsafe(`DROP FUNCTION IF EXISTS "${table}_notify"()`);
  } finally {
    await sql.end({ timeout: 2 });
  }
}
