import type { Clock } from "../../src/cluster/membership/types.js";

/** A clock that moves only when told; advance() fires due timers in time order. */
export class FakeClock implements Clock {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(private time = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** The scheduler's Clock names (src/scheduler/clock.ts), so one fake drives both the actor table and timer engines. */
  setTimer(fn: () => void, ms: number): unknown {
    return this.setTimeout(fn, ms);
  }

  clearTimer(handle: unknown): void {
    this.clearTimeout(handle);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing each due timer and letting promise callbacks settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
      await settle();
    }
    this.time = end;
    await settle();
  }
}

/** Lets pending promise callbacks run (a bounded number of macrotask turns). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
