// Where timer entries persist: one record per entry, written when it is scheduled and again after each fire (next
// due time, repetitions left, retry attempts), deleted when it ends or is cancelled, so a restarted node lists
// them and continues where the last write left off.
import type { StateStore } from "../components/contracts/state.js";
import type { Schedule } from "./schedule.js";

export type FailurePolicy = { drop: true } | { constant: { intervalMs: number; maxRetries?: number } };

/** One timer, exactly as it persists. `data` must survive JSON. */
export interface TimerEntry<D = unknown> {
  key: string;
  /** The tick being fired next (unix ms). Periods count from it. */
  dueAt: number;
  schedule?: Schedule;
  /** Fires left, this tick included; undefined = unlimited. */
  repeats?: number;
  /** No tick after this time fires (unix ms). */
  expiresAt?: number;
  data?: D;
  failurePolicy?: FailurePolicy;
  /** Failed attempts at the current tick. */
  attempts?: number;
  /** When a failed tick is tried again (unix ms); unset when not retrying. */
  retryAt?: number;
}

export interface TimerStore {
  put(entry: TimerEntry): Promise<void>;
  get(key: string): Promise<TimerEntry | undefined>;
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Every entry whose key starts with prefix ("" for all), in pages. */
  list(prefix: string): AsyncIterable<TimerEntry[]>;
}

/** A process-local store: for tests, and for timers that need not survive a restart. */
export class MemoryTimerStore implements TimerStore {
  readonly entries = new Map<string, string>();

  async put(entry: TimerEntry) {
    this.entries.set(entry.key, JSON.stringify(entry));
  }

  async get(key: string) {
    const text = this.entries.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as TimerEntry);
  }

  async delete(key: string) {
    this.entries.delete(key);
  }

  async deleteMany(keys: string[]) {
    for (const key of keys) this.entries.delete(key);
  }

  async *list(prefix: string) {
    const page: TimerEntry[] = [];
    for (const [key, text] of this.entries) if (key.startsWith(prefix)) page.push(JSON.parse(text));
    yield page;
  }
}

const PAGE = 1000;
const DELETE_BATCH = 100;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Entries in a state store, one JSON value per entry under `<namespace><entry key>`, listed with the store's query
 * API (a key-prefix scan; every built-in store has it). One key per entry keeps each fire's write small and
 * independent; an index key listing all entries would be rewritten on every register and fire, by every node.
 * Paging is by offset, so a listing that runs while other nodes add entries may miss one of them; the engine
 * reloads on every ownership change.
 */
export class StateTimerStore implements TimerStore {
  constructor(
    private readonly store: StateStore,
    private readonly namespace: string,
  ) {
    if (!store.query || !store.features().includes("QUERY_API")) {
      throw new Error("durable timers need a state store with the query API (state.sqlite, state.postgresql, state.in-memory)");
    }
  }

  async put(entry: TimerEntry) {
    await this.store.set({
      key: this.namespace + entry.key,
      value: encoder.encode(JSON.stringify(entry)),
      concurrency: "last-write",
      contentType: "application/json",
    });
  }

  async get(key: string) {
    const item = await this.store.get(this.namespace + key);
    return item && (JSON.parse(decoder.decode(item.value)) as TimerEntry);
  }

  async delete(key: string) {
    await this.store.delete({ key: this.namespace + key, concurrency: "last-write" });
  }

  async deleteMany(keys: string[]) {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      await this.store.transact(
        keys.slice(i, i + DELETE_BATCH).map((key) => ({ op: "delete" as const, key: this.namespace + key, concurrency: "last-write" as const })),
      );
    }
  }

  async *list(prefix: string) {
    let token: string | undefined;
    do {
      const page = await this.store.query!({ keyPrefix: this.namespace + prefix, page: { limit: PAGE, token } });
      yield page.results.map((item) => JSON.parse(decoder.decode(item.value)) as TimerEntry);
      token = page.token;
    } while (token);
  }
}
