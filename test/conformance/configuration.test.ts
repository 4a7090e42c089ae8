// One conformance suite for the ConfigurationStore contract, run against every configuration plugin (real Redis and
// PostgreSQL included). Each subject brings a writer that changes its backend the way an operator does.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import configurationLocalFile, { parseConfigurationFile } from "../../plugins/configuration.local.file/index.js";
import configurationPostgresql from "../../plugins/configuration.postgresql/index.js";
import configurationRedis, { parseRedisValue, withKeyspaceEvents } from "../../plugins/configuration.redis/index.js";
import {
  SubscriptionNotFoundError, type ConfigurationStore, type ConfigurationUpdate,
} from "../../src/components/contracts/configuration.js";
import { parseMetadata } from "../../src/components/metadata-schema.js";
import type { ComponentPlugin, PluginContext } from "../../src/components/plugin.js";
import { silentLogger } from "../../src/observability/logger.js";
import { missing, PG_URL, REDIS_HOST } from "../support/backends.js";
import { createDaprConfigurationTable, dropDaprConfigurationTable, uniqueTable } from "../support/postgres.js";
import { waitFor } from "../support/ports.js";

const noPostgres = await missing("postgres");
const noRedis = await missing("redis");

interface Subject {
  store: ConfigurationStore;
  /** Writes key's value and version (and metadata where the backend keeps it) as an operator would. */
  set(key: string, value: string, version: string, metadata?: Record<string, string>): Promise<void>;
  del(key: string): Promise<void>;
  /** The backend keeps per-item metadata. */
  keepsMetadata: boolean;
  cleanup(): Promise<void>;
}

async function create(plugin: ComponentPlugin<any, any>, raw: Record<string, string>, dataDir: string): Promise<ConfigurationStore> {
  const ctx: PluginContext = { name: "configstore", appId: "conformance", dataDir, logger: silentLogger };
  return (await plugin.create(parseMetadata(plugin.metadata, raw), ctx)) as ConfigurationStore;
}

const subjects: [string, boolean, () => Promise<Subject>][] = [
  ["configuration.local.file", false, async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-conf-config-"));
    const file = join(dir, "config.yaml");
    const doc: Record<string, { value: string; version: string; metadata?: Record<string, string> }> = {};
    const flush = () => writeFileSync(file, JSON.stringify(doc, null, 2));
    const store = await create(configurationLocalFile, { configFile: "config.yaml", pollInterval: "100ms" }, dir);
    return {
      store,
      keepsMetadata: true,
      async set(key, value, version, metadata) {
        doc[key] = { value, version, ...(metadata ? { metadata } : {}) };
        flush();
      },
      async del(key) {
        delete doc[key];
        flush();
      },
      async cleanup() {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }],
  ["configuration.redis", noRedis, async () => {
    const [host, port] = REDIS_HOST.split(":");
    const writer = new Redis({ host, port: Number(port || 6379), lazyConnect: true });
    await writer.connect();
    const store = await create(configurationRedis, { redisHost: REDIS_HOST }, tmpdir());
    return {
      store,
      keepsMetadata: false,
      set: async (key, value, version) => void (await writer.set(key, `${value}||${version}`)),
      del: async (key) => void (await writer.del(key)),
      async cleanup() {
        await store.close();
        writer.disconnect();
      },
    };
  }],
  ["configuration.postgresql", noPostgres, async () => {
    const table = uniqueTable("conf_cfg");
    const channel = `${table}_ch`;
    await createDaprConfigurationTable(table, channel);
    const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
    const store = await create(configurationPostgresql, { connectionString: PG_URL, table, timeout: "5s", notifyChannel: channel }, tmpdir());
    return {
      store,
      keepsMetadata: true,
      async set(key, value, version, metadata) {
        const md = metadata ? JSON.stringify(metadata) : null;
        const updated = await sql`UPDATE ${sql(table)} SET value = ${value}, version = ${version}, metadata = ${md}::text::json WHERE key = ${key}`;
        if (updated.count === 0) await sql`INSERT INTO ${sql(table)} (key, value, version, metadata) VALUES (${key}, ${value}, ${version}, ${md}::text::json)`;
      },
      del: async (key) => void (await sql`DELETE FROM ${sql(table)} WHERE key = ${key}`),
      async cleanup() {
        await store.close();
        await sql.end({ timeout: 2 });
        await dropDaprConfigurationTable(table);
      },
    };
  }],
];

/** A subscription handler that keeps what it got. */
function recorder() {
  const updates: ConfigurationUpdate[] = [];
  return {
    updates,
    handler: async (u: ConfigurationUpdate) => void updates.push(u),
    /** The items it got for `key`, in order. */
    of: (key: string) => updates.filter((u) => Object.hasOwn(u.items, key)).map((u) => u.items[key]),
  };
}

const until = (what: string, check: () => boolean) => waitFor(() => check() || undefined, what, 10_000, 20);

for (const [name, skip, make] of subjects) describe.skipIf(skip)(`ConfigurationStore contract: ${name}`, () => {
  let subject: Subject;
  let store: ConfigurationStore;
  const run = Math.random().toString(36).slice(2, 8);
  let n = 0;
  /** Keys of one test: a prefix no other test (or run) uses. */
  const keysFor = () => {
    const p = `cfg-${run}-${++n}`;
    return (k: string) => `${p}-${k}`;
  };

  beforeAll(async () => {
    subject = await make();
    store = subject.store;
  });
  afterAll(async () => {
    await subject?.cleanup();
  });

  test("get with no keys returns every item, with its value and version", async () => {
    const k = keysFor();
    await subject.set(k("a"), "alpha", "1");
    await subject.set(k("b"), "beta", "7");
    const all = await store.get({ keys: [], metadata: {} });
    expect(all[k("a")]).toMatchObject({ value: "alpha", version: "1" });
    expect(all[k("b")]).toMatchObject({ value: "beta", version: "7" });
  });

  test("get with keys returns just those that exist", async () => {
    const k = keysFor();
    await subject.set(k("a"), "alpha", "1");
    await subject.set(k("b"), "beta", "1");
    await subject.set(k("c"), "gamma", "1");
    const some = await store.get({ keys: [k("a"), k("c"), k("missing")], metadata: {} });
    expect(Object.keys(some).sort()).toEqual([k("a"), k("c")]);
    expect(some[k("c")].value).toBe("gamma");
    expect(await store.get({ keys: [k("missing")], metadata: {} })).toEqual({});
  });

  test("an update is seen with its new version; a deleted key is gone", async () => {
    const k = keysFor();
    await subject.set(k("a"), "one", "1");
    await subject.set(k("a"), "two", "2");
    expect((await store.get({ keys: [k("a")], metadata: {} }))[k("a")]).toMatchObject({ value: "two", version: "2" });
    await subject.del(k("a"));
    expect(await store.get({ keys: [k("a")], metadata: {} })).toEqual({});
  });

  test("unicode values round-trip", async () => {
    const k = keysFor();
    await subject.set(k("u"), "héllo — 日本語 🚀", "1");
    expect((await store.get({ keys: [k("u")], metadata: {} }))[k("u")].value).toBe("héllo — 日本語 🚀");
  });

  test("per-item metadata is returned where the backend keeps it", async () => {
    if (!subject.keepsMetadata) return;
    const k = keysFor();
    await subject.set(k("m"), "v", "1", { owner: "team-a", tier: "gold" });
    expect((await store.get({ keys: [k("m")], metadata: {} }))[k("m")].metadata).toEqual({ owner: "team-a", tier: "gold" });
  });

  test("a subscription to named keys sees their updates and deletions, and nothing of other keys", async () => {
    const k = keysFor();
    await subject.set(k("a"), "first", "1");
    const r = recorder();
    const id = await store.subscribe({ keys: [k("a")], metadata: {} }, r.handler);
    expect(id).toBeTruthy();
    await subject.set(k("other"), "x", "1");
    await subject.set(k("a"), "second", "2");
    await until("the update of a", () => r.of(k("a")).some((i) => i.value === "second"));
    await subject.del(k("a"));
    await until("the deletion of a", () => r.of(k("a")).some((i) => i.value === "" && i.version === ""));
    expect(r.of(k("a")).find((i) => i.value === "second")?.version).toBe("2");
    expect(r.updates.every((u) => u.id === id)).toBe(true);
    expect(r.of(k("other"))).toEqual([]);
    await store.unsubscribe(id);
  });

  test("a subscription to no keys sees every key's changes", async () => {
    const k = keysFor();
    const r = recorder();
    const id = await store.subscribe({ keys: [], metadata: {} }, r.handler);
    await subject.set(k("a"), "va", "1");
    await subject.set(k("b"), "vb", "1");
    await until("both keys' updates", () => r.of(k("a")).length > 0 && r.of(k("b")).length > 0);
    expect(r.of(k("b"))[0]).toMatchObject({ value: "vb", version: "1" });
    await store.unsubscribe(id);
  });

  test("several subscribers each get the update under their own id; unsubscribing one stops only it", async () => {
    const k = keysFor();
    const [r1, r2, r3] = [recorder(), recorder(), recorder()];
    const id1 = await store.subscribe({ keys: [k("a")], metadata: {} }, r1.handler);
    const id2 = await store.subscribe({ keys: [k("a")], metadata: {} }, r2.handler);
    const id3 = await store.subscribe({ keys: [], metadata: {} }, r3.handler);
    expect(new Set([id1, id2, id3]).size).toBe(3);
    await subject.set(k("a"), "v1", "1");
    await until("all three to see v1", () => [r1, r2, r3].every((r) => r.of(k("a")).some((i) => i.value === "v1")));
    expect(r1.updates[0].id).toBe(id1);
    expect(r2.updates[0].id).toBe(id2);

    await store.unsubscribe(id1);
    await subject.set(k("a"), "v2", "2");
    // r2 and r3 hear v2 from the same backend event r1 would have: once they have it, r1 will not get it.
    await until("the remaining subscribers to see v2", () => [r2, r3].every((r) => r.of(k("a")).some((i) => i.value === "v2")));
    await store.unsubscribe(id3);
    await subject.set(k("a"), "v3", "3");
    await until("the last subscriber to see v3", () => r2.of(k("a")).some((i) => i.value === "v3"));
    expect(r1.of(k("a")).map((i) => i.value)).not.toContain("v2");
    expect(r3.of(k("a")).map((i) => i.value)).not.toContain("v3");
    await store.unsubscribe(id2);
  });

  test("a subscriber's updates come in order, each after its handler finished; a failing handler gets the next update", async () => {
    const k = keysFor();
    const seen: string[] = [];
    let running = 0;
    let overlapped = false;
    let failed = false;
    const id = await store.subscribe({ keys: [k("a")], metadata: {} }, async (u) => {
      if (++running > 1) overlapped = true;
      await Bun.sleep(5);
      running--;
      seen.push(u.items[k("a")].value);
      if (!failed) {
        failed = true;
        throw new Error("handler failure");
      }
    });
    for (let i = 1; i <= 5; i++) {
      await subject.set(k("a"), `v${i}`, String(i));
      await until(`v${i} to arrive`, () => seen.includes(`v${i}`));
    }
    expect(overlapped).toBe(false);
    expect(seen.filter((v, i) => seen.indexOf(v) === i)).toEqual(["v1", "v2", "v3", "v4", "v5"]);
    await store.unsubscribe(id);
  });

  test("unsubscribing an unknown id, or twice, throws SubscriptionNotFoundError", async () => {
    await expect(store.unsubscribe("no-such-subscription")).rejects.toBeInstanceOf(SubscriptionNotFoundError);
    const id = await store.subscribe({ keys: ["x"], metadata: {} }, async () => {});
    await store.unsubscribe(id);
    await expect(store.unsubscribe(id)).rejects.toBeInstanceOf(SubscriptionNotFoundError);
  });
});

describe("configuration plugins' formats", () => {
  test("configuration.redis reads Dapr's value||version", () => {
    expect(parseRedisValue("v||3")).toEqual({ value: "v", version: "3" });
    expect(parseRedisValue("plain")).toEqual({ value: "plain", version: "" });
    expect(parseRedisValue("a||1||x")).toEqual({ value: "a", version: "1" });
  });

  test("configuration.redis adds only the keyspace event classes missing", () => {
    expect(withKeyspaceEvents("")).toBe("Kg$xe");
    expect(withKeyspaceEvents("Ex")).toBe("ExKg$e");
    expect(withKeyspaceEvents("AKE")).toBeUndefined();
    expect(withKeyspaceEvents("Kg$xe")).toBeUndefined();
  });

  test("configuration.local.file: plain values get a digest version, items keep theirs; bad files are refused", () => {
    const items = parseConfigurationFile("a: one\nb: {value: two, version: '9', metadata: {k: v}}\nn: 3\n");
    expect(items.get("a")?.value).toBe("one");
    expect(items.get("a")?.version).toMatch(/^[0-9a-f]{16}$/);
    expect(parseConfigurationFile("a: one").get("a")?.version).toBe(items.get("a")?.version);
    expect(parseConfigurationFile("a: other").get("a")?.version).not.toBe(items.get("a")?.version);
    expect(items.get("b")).toEqual({ value: "two", version: "9", metadata: { k: "v" } });
    expect(items.get("n")?.value).toBe("3");
    expect(parseConfigurationFile("").size).toBe(0);
    expect(() => parseConfigurationFile("- a\n- b\n")).toThrow(/mapping/);
    expect(() => parseConfigurationFile("a: {value: x, metadata: [1]}")).toThrow(/metadata/);
  });
});

describe.skipIf(noPostgres)("configuration.postgresql specifics", () => {
  test("the table must exist; the channel comes from the component, else the request's pgNotifyChannel, else subscribing fails", async () => {
    await expect(create(configurationPostgresql, { connectionString: PG_URL, table: uniqueTable("conf_cfg_none") }, tmpdir())).rejects.toThrow(/does not exist/);
    const table = uniqueTable("conf_cfg");
    const channel = `${table}_ch`;
    await createDaprConfigurationTable(table, channel);
    const store = await create(configurationPostgresql, { connectionString: PG_URL, table, timeout: "5s" }, tmpdir());
    const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
    try {
      await expect(store.subscribe({ keys: [], metadata: {} }, async () => {})).rejects.toThrow(/notifyChannel/);
      await expect(store.subscribe({ keys: [], metadata: { pgNotifyChannel: "Bad-Channel" } }, async () => {})).rejects.toThrow(/invalid notifyChannel/);
      const r = recorder();
      const id = await store.subscribe({ keys: ["k"], metadata: { pgNotifyChannel: channel } }, r.handler);
      await sql`INSERT INTO ${sql(table)} (key, value, version) VALUES ('k', 'v', '1')`;
      await until("the insert's notification", () => r.of("k").length > 0);
      expect(r.of("k")[0]).toEqual({ value: "v", version: "1", metadata: {} });
      await store.unsubscribe(id);
    } finally {
      await store.close();
      await sql.end({ timeout: 2 });
      await dropDaprConfigurationTable(table);
    }
  });

  test("several rows of one key: the highest numeric version wins, as in Dapr", async () => {
    const table = uniqueTable("conf_cfg");
    await createDaprConfigurationTable(table, `${table}_ch`);
    const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
    const store = await create(configurationPostgresql, { connectionString: PG_URL, table, timeout: "5s" }, tmpdir());
    try {
      await sql`INSERT INTO ${sql(table)} (key, value, version) VALUES ('k', 'old', '2'), ('k', 'new', '10'), ('k', 'odd', 'x')`;
      expect((await store.get({ keys: ["k"], metadata: {} })).k).toMatchObject({ value: "new", version: "10" });
    } finally {
      await store.close();
      await sql.end({ timeout: 2 });
      await dropDaprConfigurationTable(table);
    }
  });
});

describe.skipIf(noRedis)("configuration.redis specifics", () => {
  test("keys of other types and empty values are left out, as Dapr's store does", async () => {
    const [host, port] = REDIS_HOST.split(":");
    const writer = new Redis({ host, port: Number(port || 6379) });
    const store = await create(configurationRedis, { redisHost: REDIS_HOST }, tmpdir());
    const p = `cfg-redis-${Math.random().toString(36).slice(2, 8)}`;
    try {
      await writer.hset(`${p}-hash`, "f", "v");
      await writer.set(`${p}-empty`, "||4");
      await writer.set(`${p}-plain`, "plain");
      expect(await store.get({ keys: [`${p}-hash`, `${p}-empty`, `${p}-plain`], metadata: {} })).toEqual({ [`${p}-plain`]: { value: "plain", version: "", metadata: {} } });
    } finally {
      await writer.del(`${p}-hash`, `${p}-empty`, `${p}-plain`);
      writer.disconnect();
      await store.close();
    }
  });
});

describe("configuration.local.file specifics", () => {
  test("a file that does not parse fails the component at start; later, a broken edit keeps the last good items", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-conf-config-"));
    try {
      writeFileSync(join(dir, "bad.yaml"), "- not\n- a mapping\n");
      await expect(create(configurationLocalFile, { configFile: "bad.yaml" }, dir)).rejects.toThrow(/configFile/);
      const store = await create(configurationLocalFile, { configFile: "good.yaml" }, dir);
      expect(await store.get({ keys: [], metadata: {} })).toEqual({});
      writeFileSync(join(dir, "good.yaml"), "a: one\n");
      expect((await store.get({ keys: [], metadata: {} })).a.value).toBe("one");
      writeFileSync(join(dir, "good.yaml"), "a: [unclosed\n");
      expect((await store.get({ keys: [], metadata: {} })).a.value).toBe("one");
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
