// A clock that moves only when told to, for the gossip, actor and scheduler tests.
import type { Clock } from "../../src/clock.js";

export class FakeClock implements Clock {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  constructor(private current = Date.UTC(2030, 0, 1)) {}

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, running each due timer at its own time, in order, settling promises after each. */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (let fired = 0; fired < 100_000; fired++) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.current = Math.max(this.current, due[1].at);
      due[1].fn();
      await settle();
    }
    this.current = end;
    await settle();
  }
}

/** Lets pending promise chains (callbacks, store writes) run: a bounded number of macrotask turns. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
