// Dapr's state key prefix as stored in the backend: "{appId}||key" by default, and keyPrefix metadata
// (appid | name | none | a custom string); two apps share keys only when the prefix says so.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { componentYaml } from "../support/components.js";

const scratch = mkdtempSync(join(tmpdir(), "rapr-keyprefix-"));
const db = join(scratch, "shared.sqlite");
const prefixes = { byapp: "appid", byname: "name", bare: "none", custom: "tenant-7" } as const;

function resources(): string {
  const dir = join(scratch, "res");
  mkdirSync(dir, { recursive: true });
  const docs = Object.entries(prefixes).map(([name, keyPrefix]) =>
    componentYaml(name, "state.sqlite", { connectionString: db, tableName: `t_${name}`, keyPrefix }));
  writeFileSync(join(dir, "stores.yaml"), docs.join("---\n"));
  return dir;
}

let appA: Sidecar;
let appB: Sidecar;

beforeAll(async () => {
  const dir = resources();
  appA = await startSidecar({ appId: "app-a", args: ["--resources-path", dir] });
  appB = await startSidecar({ appId: "app-b", args: ["--resources-path", dir] });
});
afterAll(async () => {
  await appA?.stop();
  await appB?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const save = (s: Sidecar, store: string, key: string, value: unknown) =>
  s.http(`/v1.0/state/${store}`, { method: "POST", body: JSON.stringify([{ key, value }]) });
const get = async (s: Sidecar, store: string, key: string) => {
  const res = await s.http(`/v1.0/state/${store}/${key}`);
  return res.status === 204 ? undefined : await res.json();
};

function storedKeys(table: string): string[] {
  const conn = new Database(db, { readonly: true });
  try {
    return (conn.query(`SELECT key FROM ${table} ORDER BY key`).all() as { key: string }[]).map((r) => r.key);
  } finally {
    conn.close();
  }
}

describe("keys as stored in the backend", () => {
  test("each keyPrefix setting stores the key under its prefix", async () => {
    for (const store of Object.keys(prefixes)) {
      expect((await save(appA, store, "k", `${store} from a`)).status).toBe(204);
    }
    expect(storedKeys("t_byapp")).toEqual(["app-a||k"]);
    expect(storedKeys("t_byname")).toEqual(["byname||k"]);
    expect(storedKeys("t_bare")).toEqual(["k"]);
    expect(storedKeys("t_custom")).toEqual(["tenant-7||k"]);
  });
});

describe("two apps on one backend", () => {
  test("with the default appid prefix each app sees only its own keys", async () => {
    expect((await save(appA, "byapp", "mine", "a")).status).toBe(204);
    expect((await save(appB, "byapp", "mine", "b")).status).toBe(204);
    expect(await get(appA, "byapp", "mine")).toBe("a");
    expect(await get(appB, "byapp", "mine")).toBe("b");
    expect(await get(appB, "byapp", "k")).toBeUndefined();
  });

  test("with name, none or a custom prefix both apps share the same keys", async () => {
    for (const store of ["byname", "bare", "custom"]) {
      expect(await get(appB, store, "k")).toBe(`${store} from a`);
      expect((await save(appB, store, "k", `${store} from b`)).status).toBe(204);
      expect(await get(appA, store, "k")).toBe(`${store} from b`);
    }
  });

  test("query results come back without the prefix and only from the app's own prefix", async () => {
    await save(appA, "byapp", "q1", { tag: "shared-run" });
    await save(appB, "byapp", "q1", { tag: "shared-run" });
    const res = await appA.http("/v1.0-alpha1/state/byapp/query", { method: "POST", body: JSON.stringify({ filter: { EQ: { tag: "shared-run" } } }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { key: string; data: unknown }[] };
    expect(body.results.map((r) => r.key)).toEqual(["q1"]);
  });
});

test("GET carries the etag and, for an item with a TTL, metadata.ttlExpireTime", async () => {
  const before = Date.now();
  const res = await appA.http("/v1.0/state/byapp", { method: "POST", body: JSON.stringify([{ key: "ttl", value: 1, metadata: { ttlInSeconds: "60" } }]) });
  expect(res.status).toBe(204);
  const got = await appA.http("/v1.0/state/byapp/ttl?consistency=strong");
  expect(got.status).toBe(200);
  expect(got.headers.get("etag")).toBeTruthy();
  const expires = Date.parse(got.headers.get("metadata.ttlExpireTime") ?? "");
  expect(expires).toBeGreaterThanOrEqual(before + 59_000);
  expect(expires).toBeLessThanOrEqual(Date.now() + 61_000);
});
