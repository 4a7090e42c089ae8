// Timer engine benchmark: N timers (default 100,000) held by 3 engines in one process (each fires the keys it owns,
// by hash), persisted through StateTimerStore over state.in-memory, due across a window; each fires twice (R2).
// Fire lag (time of the callback minus the due time) is printed next to a baseline measured in the same run: the
// same due times on one bare setTimeout each. Memory: heap growth per 10,000 entries held by an engine (no store)
// and per 10,000 records in the in-memory state store.
//   bun bench/scheduler.ts [--timers 100000] [--window-ms 5000] [--nodes 3]
// The first due time leaves room for registering them all (1.5 × the time the memory pass took to hold and store as
// many, plus 0.5 s). Bounded: the run stops after 60 s whatever happened.
import { heapStats } from "bun:jsc";
import stateInMemory from "../plugins/state.in-memory/index.js";
import type { StateStore } from "../src/components/contracts/state.js";
import { parseMetadata } from "../src/components/metadata-schema.js";
import { silentLogger } from "../src/observability/logger.js";
import type { Clock } from "../src/clock.js";
import { TimerEngine } from "../src/scheduler/engine.js";
import { StateTimerStore } from "../src/scheduler/store.js";
import { flagNumber } from "./flags.js";
import { percentile } from "./measure.js";

const TIMERS = flagNumber("timers", 100_000);
const WINDOW_MS = flagNumber("window-ms", 5000);
const NODES = flagNumber("nodes", 3);
const DEADLINE_MS = 60_000;
const started = performance.now();

/** Wall time with sub-millisecond precision, so lags below 1 ms are not rounded away. */
const preciseNow = () => performance.timeOrigin + performance.now();
const clock: Clock = {
  now: preciseNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const dueTimes = (base: number) => Array.from({ length: TIMERS }, (_, i) => base + ((i * 7919) % TIMERS) * (WINDOW_MS / TIMERS));
const hash = (key: string) => {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return Math.abs(h);
};
const fmt = (ms: number) => ms.toFixed(2).padStart(8);

function heapUsed(): number {
  Bun.gc(true);
  return heapStats().heapSize;
}

async function until(done: () => boolean, what: string) {
  while (!done()) {
    if (performance.now() - started > DEADLINE_MS) throw new Error(`bench deadline passed while waiting for ${what}`);
    await Bun.sleep(50);
  }
}

async function baseline(leadMs: number): Promise<number[]> {
  const lags: number[] = [];
  const base = preciseNow() + leadMs;
  for (const due of dueTimes(base)) setTimeout(() => lags.push(preciseNow() - due), due - preciseNow());
  await until(() => lags.length === TIMERS, "the baseline timers");
  return lags;
}

async function engines(state: StateStore, leadMs: number): Promise<{ lags: number[]; registerMs: number }> {
  const lags: number[] = [];
  const store = new StateTimerStore(state, "scheduler||");
  const nodes = Array.from({ length: NODES }, (_, n) =>
    new TimerEngine({
      clock,
      store,
      owns: (key) => hash(key) % NODES === n,
      maxInFlight: 256,
      fire: async (e) => void lags.push(preciseNow() - e.dueAt),
    }));
  await Promise.all(nodes.map((e) => e.start()));
  const t = performance.now();
  const base = preciseNow() + leadMs;
  const dues = dueTimes(base);
  for (let i = 0; i < TIMERS; i++) {
    const key = `actor||T||${i}||r`;
    await nodes[hash(key) % NODES].schedule(key, { dueAt: dues[i], schedule: { every: { months: 0, days: 0, ms: WINDOW_MS } }, repeats: 2 });
  }
  const registerMs = performance.now() - t;
  if (preciseNow() > base) console.warn(`warning: registering took longer than the ${leadMs.toFixed(0)} ms lead; early fires are late by that`);
  await until(() => lags.length === 2 * TIMERS, "the engine's fires");
  await Promise.all(nodes.map((e) => e.close()));
  return { lags, registerMs };
}

async function measureMemory(): Promise<{ engineMb: number; stateMb: number; registerMs: number }> {
  const per10k = (bytes: number) => (bytes / TIMERS) * 10_000 / 1024 / 1024;
  const far = preciseNow() + 3_600_000;
  const engine = new TimerEngine({ clock, fire: async () => {} });
  const before = heapUsed();
  const t = performance.now();
  for (let i = 0; i < TIMERS; i++) {
    await engine.schedule(`actor||T||${i}||r`, { dueAt: far + i, schedule: { every: { months: 0, days: 0, ms: 10_000 } }, repeats: 5, data: { n: i } });
  }
  const registerMs = performance.now() - t;
  const engineBytes = heapUsed() - before;
  await engine.close();

  const state = await openState();
  const store = new StateTimerStore(state, "scheduler||");
  const beforeState = heapUsed();
  const tState = performance.now();
  for (let i = 0; i < TIMERS; i++) await store.put({ key: `actor||T||${i}||r`, dueAt: far + i, schedule: { every: { months: 0, days: 0, ms: 10_000 } }, repeats: 5, data: { n: i } });
  const storeMs = performance.now() - tState;
  const stateBytes = heapUsed() - beforeState;
  await state.close();
  return { engineMb: per10k(engineBytes), stateMb: per10k(stateBytes), registerMs: registerMs + storeMs };
}

async function openState(): Promise<StateStore> {
  return (await stateInMemory.create(parseMetadata(stateInMemory.metadata, {}), { name: "bench", appId: "bench", dataDir: "/tmp", logger: silentLogger })) as StateStore;
}

const memory = await measureMemory();
const leadMs = 1.5 * memory.registerMs + 500;
const base = await baseline(leadMs);
const state = await openState();
const run = await engines(state, leadMs);
await state.close();

console.log(`timers: ${TIMERS} across ${NODES} engines, due over ${WINDOW_MS} ms, each firing twice (R2); store: state.in-memory`);
console.log(`registered in ${run.registerMs.toFixed(0)} ms (schedule() incl. the store write)`);
console.log(`lag ms                        p50      p99      max`);
console.log(`bare setTimeout per timer ${fmt(percentile(base, 50))} ${fmt(percentile(base, 99))} ${fmt(Math.max(...base))}`);
console.log(`timer engine              ${fmt(percentile(run.lags, 50))} ${fmt(percentile(run.lags, 99))} ${fmt(Math.max(...run.lags))}`);
console.log(`memory per 10,000 timers: engine ${memory.engineMb.toFixed(2)} MB heap, state.in-memory records ${memory.stateMb.toFixed(2)} MB heap`);
console.log(`run time ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
