// Timer entries over the project's state stores: a restart lists them back, paging and bulk deletes included.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import stateInMemory from "../../plugins/state.in-memory/index.js";
import stateSqlite from "../../plugins/state.sqlite/index.js";
import type { StateStore } from "../../src/components/contracts/state.js";
import { parseMetadata } from "../../src/components/metadata-schema.js";
import type { ComponentPlugin } from "../../src/components/plugin.js";
import { silentLogger } from "../../src/observability/logger.js";
import { FakeClock } from "../support/fake-clock.js";
import { TimerEngine } from "../../src/scheduler/engine.js";
import { StateTimerStore, type TimerEntry } from "../../src/scheduler/store.js";

const S = 1000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(plugin: ComponentPlugin<any, any>, raw: Record<string, string>, dataDir: string): Promise<StateStore> {
  const store = (await plugin.create(parseMetadata(plugin.metadata, raw), { name: "timers", appId: "app", dataDir, logger: silentLogger })) as StateStore;
  cleanups.push(() => store.close());
  return store;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-scheduler-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function all(store: StateTimerStore, prefix = ""): Promise<TimerEntry[]> {
  const out: TimerEntry[] = [];
  for await (const page of store.list(prefix)) out.push(...page);
  return out;
}

describe.each([
  ["state.in-memory", async () => open(stateInMemory, {}, tmpdir())],
  ["state.sqlite", async () => open(stateSqlite, { connectionString: "timers.db" }, tempDir())],
])("StateTimerStore over %s", (_name, make) => {
  test("put, get, list by prefix across pages, deleteMany; other keys of the state store are not touched", async () => {
    const state = await make();
    await state.set({ key: "app||unrelated", value: new TextEncoder().encode("{}"), concurrency: "last-write" });
    const store = new StateTimerStore(state, "scheduler||");
    for (let i = 0; i < 2500; i++) await store.put({ key: `${i % 2 ? "a" : "b"}||${i}`, dueAt: i, data: { n: i } });
    expect(await store.get("a||1")).toEqual({ key: "a||1", dueAt: 1, data: { n: 1 } });
    expect((await all(store)).length).toBe(2500);
    expect((await all(store, "a||")).length).toBe(1250);
    await store.deleteMany((await all(store, "a||")).map((e) => e.key));
    expect((await all(store)).length).toBe(1250);
    await store.delete("b||0");
    expect(await store.get("b||0")).toBeUndefined();
    expect(await state.get("app||unrelated")).toBeDefined();
  });
});

test("a restart over the same sqlite file continues each timer where it left off", async () => {
  const dir = tempDir();
  const clock = new FakeClock();
  const t0 = clock.now();
  const fired: string[] = [];
  const engine = (state: StateStore) =>
    new TimerEngine<string>({ clock, store: new StateTimerStore(state, "scheduler||"), fire: async (e) => void fired.push(`${e.key}@${(clock.now() - t0) / S}`) });

  const state1 = await open(stateSqlite, { connectionString: "timers.db" }, dir);
  const first = engine(state1);
  await first.start();
  await first.schedule("rem", { dueAt: t0 + S, schedule: { every: { months: 0, days: 0, ms: 10 * S } }, repeats: 4, data: "x" });
  await first.schedule("once", { dueAt: t0 + 100 * S });
  await clock.advance(11 * S);
  await first.close();
  await state1.close();
  expect(fired).toEqual(["rem@1", "rem@11"]);

  const state2 = await open(stateSqlite, { connectionString: "timers.db" }, dir);
  const second = engine(state2);
  await second.start();
  expect(second.get("rem")).toMatchObject({ dueAt: t0 + 21 * S, repeats: 2, data: "x" });
  await clock.advance(200 * S);
  await second.close();
  expect(fired).toEqual(["rem@1", "rem@11", "rem@21", "rem@31", "once@100"]);
  expect(second.size).toBe(0);
});

test("a state store without the query API is refused with a clear message", () => {
  const bare = { features: () => [], close: async () => {} } as unknown as StateStore;
  expect(() => new StateTimerStore(bare, "s||")).toThrow(/query API/);
});
