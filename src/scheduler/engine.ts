// The timer engine: every timer this node owns sits in one min-heap behind ONE platform timer, armed for the
// earliest due time. Due entries fire through an async callback, at most `maxInFlight` at once and never two of one
// key at once. After a fire the entry advances to its schedule's first tick after now (ticks missed while the node
// was down or busy collapse into the one fire just made), and that next state is written to the store only after
// the callback succeeded: a crash between the two fires the tick again on restart (at-least-once).
import { realClock, type Clock } from "../clock.js";
import { TimeHeap } from "./heap.js";
import { nextTick } from "./schedule.js";
import type { FailurePolicy, TimerEntry, TimerStore } from "./store.js";

export type { FailurePolicy, TimerEntry, TimerStore } from "./store.js";

/** What schedule() takes: everything of an entry but its key and retry state. */
export type TimerSpec<D = unknown> = Omit<TimerEntry<D>, "key" | "attempts" | "retryAt">;

export interface EngineOptions<D> {
  /** Delivers one due entry; a rejection is a failed attempt, handled by the entry's failure policy. */
  fire(entry: Readonly<TimerEntry<D>>): Promise<void>;
  /** Where entries persist; without one nothing survives the process. */
  store?: TimerStore;
  clock?: Clock;
  /** Whether this node fires the key; re-read for every entry on ownershipChanged(). Default: owns everything. */
  owns?(key: string): boolean;
  /** Callbacks running at once, across all keys. Default 64. */
  maxInFlight?: number;
  /** For entries without their own policy. Default: retry every 1 s, 3 times (go-etcd-cron's default). */
  failurePolicy?: FailurePolicy;
  /** Failed fires and failed store writes; the engine carries on. */
  onError?(err: unknown, context: { key: string; op: "fire" | "persist" | "load" }): void;
}

const DEFAULT_POLICY: FailurePolicy = { constant: { intervalMs: 1000, maxRetries: 3 } };
/** Stale heap slots (cancelled or replaced entries) tolerated beyond the live ones before the heap is rebuilt. */
const STALE_SLACK = 1024;

const dueTime = (e: TimerEntry) => e.retryAt ?? e.dueAt;

export class TimerEngine<D = unknown> {
  private readonly entries = new Map<string, TimerEntry<D>>();
  private readonly heap = new TimeHeap<TimerEntry<D>>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Keys whose current entry came due while an older one of the same key was still firing. */
  private readonly deferred = new Set<string>();
  private readonly writes = new Map<string, Promise<void>>();
  /** Keys cancelled or finished while a reload lists the store, so the reload does not bring them back. */
  private forgotten: Set<string> | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private timer: unknown;
  private armedAt = Infinity;
  private closed = false;
  private readonly clock: Clock;
  private readonly maxInFlight: number;
  private readonly owns: (key: string) => boolean;

  constructor(private readonly opts: EngineOptions<D>) {
    this.clock = opts.clock ?? realClock;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 64);
    this.owns = opts.owns ?? (() => true);
  }

  /** Loads the owned entries from the store and starts firing. */
  async start(): Promise<void> {
    await this.ownershipChanged();
  }

  /**
   * Adds or replaces the timer `key` and persists it. On a node that does not own the key it is only persisted:
   * the owner takes it up on its next ownershipChanged().
   */
  async schedule(key: string, spec: TimerSpec<D>): Promise<void> {
    this.assertOpen();
    if (!Number.isFinite(spec.dueAt)) throw new RangeError(`timer "${key}": dueAt must be a finite time`);
    if (spec.repeats !== undefined && !(Number.isSafeInteger(spec.repeats) && spec.repeats >= 1)) {
      throw new RangeError(`timer "${key}": repeats must be a whole number of at least 1`);
    }
    const entry = entryOf(key, spec);
    this.forget(key);
    this.hold(entry);
    try {
      await this.persist(key, (store) => store.put(entry));
    } catch (err) {
      if (this.entries.get(key) === entry) this.forget(key);
      throw err;
    }
    this.pump();
  }

  /** Removes the timer `key` here and from the store. A fire already running completes but is not recorded. */
  async cancel(key: string): Promise<void> {
    this.forget(key);
    await this.persist(key, (store) => store.delete(key));
  }

  /** Removes every timer whose key starts with `prefix`, held here or not (e.g. all reminders of an actor type). */
  async cancelPrefix(prefix: string): Promise<number> {
    const keys = new Set([...this.entries.keys()].filter((k) => k.startsWith(prefix)));
    for (const key of keys) this.forget(key);
    const store = this.opts.store;
    if (store) {
      for await (const page of store.list(prefix)) for (const e of page) keys.add(e.key);
      await Promise.all([...keys].map((k) => this.writes.get(k)));
      await store.deleteMany([...keys]);
    }
    return keys.size;
  }

  /** An entry this node holds (owns). */
  get(key: string): Readonly<TimerEntry<D>> | undefined {
    return this.entries.get(key);
  }

  /** The entries this node holds whose key starts with `prefix`. */
  list(prefix = ""): Readonly<TimerEntry<D>>[] {
    return [...this.entries.values()].filter((e) => e.key.startsWith(prefix));
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Re-reads owns() for every key: drops what this node no longer owns (it stays in the store for the new owner)
   * and loads from the store what it now owns. Calls run one after another.
   */
  ownershipChanged(): Promise<void> {
    this.reloading = this.reloading.then(() => this.reload());
    return this.reloading;
  }

  /** Stops firing and waits for running callbacks and pending writes. Entries stay in the store. */
  async close(): Promise<void> {
    this.closed = true;
    this.disarm();
    await Promise.allSettled([...this.inFlight.values(), ...this.writes.values(), this.reloading]);
  }

  private async reload(): Promise<void> {
    if (this.closed) return;
    for (const key of this.entries.keys()) if (!this.owns(key) && !this.inFlight.has(key)) this.forget(key);
    const store = this.opts.store;
    if (store) {
      this.forgotten = new Set();
      try {
        for await (const page of store.list("")) {
          for (const entry of page) {
            if (this.entries.has(entry.key) || this.forgotten.has(entry.key) || !this.owns(entry.key)) continue;
            if (typeof entry.key !== "string" || !Number.isFinite(entry.dueAt)) {
              this.opts.onError?.(new Error("stored timer entry is malformed; skipped"), { key: String(entry.key), op: "load" });
              continue;
            }
            this.hold(entry as TimerEntry<D>);
          }
        }
      } finally {
        this.forgotten = undefined;
      }
    }
    this.pump();
  }

  private hold(entry: TimerEntry<D>): void {
    if (!this.owns(entry.key)) return;
    this.entries.set(entry.key, entry);
    if (this.inFlight.has(entry.key)) this.deferred.add(entry.key);
    else this.heap.push(dueTime(entry), entry);
    if (this.heap.size > 2 * this.entries.size + STALE_SLACK) this.heap.filter((e) => this.isCurrent(e));
  }

  private forget(key: string): void {
    this.entries.delete(key);
    this.deferred.delete(key);
    this.forgotten?.add(key);
  }

  private isCurrent(entry: TimerEntry<D>): boolean {
    return this.entries.get(entry.key) === entry;
  }

  /** Starts every due entry the in-flight bound allows, then arms the timer for the next one. */
  private pump(): void {
    if (this.closed) return;
    const now = this.clock.now();
    while (this.inFlight.size < this.maxInFlight) {
      const top = this.heap.peek();
      if (!top || (this.isCurrent(top.item) && top.at > now)) break;
      const entry = this.heap.pop()!;
      if (!this.isCurrent(entry)) continue;
      if (this.inFlight.has(entry.key)) this.deferred.add(entry.key);
      else if (entry.expiresAt !== undefined && entry.dueAt > entry.expiresAt) this.finish(entry.key);
      else this.run(entry);
    }
    this.arm(now);
  }

  private run(entry: TimerEntry<D>): void {
    const done = (async () => {
      let failure: { err: unknown } | undefined;
      try {
        await this.opts.fire(entry);
      } catch (err) {
        failure = { err };
      }
      this.inFlight.delete(entry.key);
      this.afterFire(entry, failure);
      this.pump();
    })();
    this.inFlight.set(entry.key, done);
  }

  private afterFire(entry: TimerEntry<D>, failure: { err: unknown } | undefined): void {
    if (!this.isCurrent(entry)) {
      // Cancelled or replaced while firing: the cancel or the new schedule is what the store has.
      const replacement = this.entries.get(entry.key);
      if (replacement && this.deferred.delete(entry.key)) this.heap.push(dueTime(replacement), replacement);
      return;
    }
    const now = this.clock.now();
    if (failure) this.opts.onError?.(failure.err, { key: entry.key, op: "fire" });
    const next = failure ? this.retryOrAdvance(entry, now) : advance(entry, now);
    if (!next) return this.finish(entry.key);
    this.entries.set(entry.key, next);
    this.persist(entry.key, (store) => store.put(next)).catch((err) => this.opts.onError?.(err, { key: entry.key, op: "persist" }));
    // Ownership moved while firing: the new owner continues from the record just written.
    if (this.owns(entry.key)) this.heap.push(dueTime(next), next);
    else this.forget(entry.key);
  }

  private retryOrAdvance(entry: TimerEntry<D>, now: number): TimerEntry<D> | undefined {
    const policy = entry.failurePolicy ?? this.opts.failurePolicy ?? DEFAULT_POLICY;
    const attempts = (entry.attempts ?? 0) + 1;
    if ("constant" in policy && (policy.constant.maxRetries === undefined || attempts <= policy.constant.maxRetries)) {
      return entryOf(entry.key, { ...entry, attempts, retryAt: now + policy.constant.intervalMs });
    }
    // Out of retries (or dropped): the tick counts as fired and the schedule moves on, as go-etcd-cron does.
    return advance(entry, now);
  }

  /** The entry has no further tick: forget it and delete it from the store. */
  private finish(key: string): void {
    this.forget(key);
    this.persist(key, (store) => store.delete(key)).catch((err) => this.opts.onError?.(err, { key, op: "persist" }));
  }

  /** Runs store writes of one key in order, so a cancel cannot be overtaken by an earlier fire's write. */
  private persist(key: string, op: (store: TimerStore) => Promise<void>): Promise<void> {
    const store = this.opts.store;
    if (!store) return Promise.resolve();
    const write = (this.writes.get(key) ?? Promise.resolve()).then(() => op(store));
    const settled = write.then(
      () => {},
      () => {},
    );
    this.writes.set(key, settled);
    settled.then(() => {
      if (this.writes.get(key) === settled) this.writes.delete(key);
    });
    return write;
  }

  private arm(now: number): void {
    let top = this.heap.peek();
    while (top && !this.isCurrent(top.item)) {
      this.heap.pop();
      top = this.heap.peek();
    }
    if (!top) return this.disarm();
    // Saturated with work already due: the next completion pumps again.
    if (top.at <= now && this.inFlight.size >= this.maxInFlight) return this.disarm();
    if (this.timer !== undefined && this.armedAt <= top.at) return;
    this.disarm();
    this.armedAt = top.at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.armedAt = Infinity;
      this.pump();
    }, Math.max(0, top.at - now));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedAt = Infinity;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("timer engine is closed");
  }
}

/**
 * The entry after a fire: one repetition fewer, due at its schedule's first tick after `now`, retry state
 * cleared. Undefined when it has no further tick (one-shot, repetitions used up, past its expiry).
 */
export function advance<D>(entry: TimerEntry<D>, now: number): TimerEntry<D> | undefined {
  const repeats = entry.repeats === undefined ? undefined : entry.repeats - 1;
  if (repeats === 0 || !entry.schedule) return undefined;
  const dueAt = nextTick(entry.schedule, entry.dueAt, Math.max(now, entry.dueAt));
  if (dueAt === undefined || (entry.expiresAt !== undefined && dueAt > entry.expiresAt)) return undefined;
  return entryOf(entry.key, { ...entry, dueAt, repeats, attempts: undefined, retryAt: undefined });
}

/**
 * An entry with only the fields that are set, built in one fixed field order: records stay small, and every entry
 * object has one of a few shapes (deleting fields instead would turn each into a slower, larger dictionary).
 */
function entryOf<D>(key: string, fields: TimerSpec<D> & { attempts?: number; retryAt?: number }): TimerEntry<D> {
  const entry: TimerEntry<D> = { key, dueAt: fields.dueAt };
  if (fields.schedule !== undefined) entry.schedule = fields.schedule;
  if (fields.repeats !== undefined) entry.repeats = fields.repeats;
  if (fields.expiresAt !== undefined) entry.expiresAt = fields.expiresAt;
  if (fields.data !== undefined) entry.data = fields.data;
  if (fields.failurePolicy !== undefined) entry.failurePolicy = fields.failurePolicy;
  if (fields.attempts !== undefined) entry.attempts = fields.attempts;
  if (fields.retryAt !== undefined) entry.retryAt = fields.retryAt;
  return entry;
}
