// The one clock: where gossip, actor turns, timers and reminders take the time and their platform timers from.
// Tests drive test/support/fake-clock.ts instead.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** setTimeout's longest delay; a timer further away is reached in several waits. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Date.now and setTimeout; timers do not keep the process alive. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
