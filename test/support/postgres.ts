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
