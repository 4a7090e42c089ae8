/** Resolves after `ms`, or at once when `stop` aborts (it never rejects: the caller checks `stop` itself). */
export function sleepUnless(ms: number, stop?: AbortSignal): Promise<void> {
  if (!stop) return Bun.sleep(ms);
  if (stop.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      stop.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    stop.addEventListener("abort", done, { once: true });
  });
}

/** True when `p` settles within `ms`, false when the time runs out first (p is left running either way). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `work` settles, or as soon as `signal` aborts; never rejects. */
export function settledOrAborted(work: Promise<unknown>, signal?: AbortSignal): Promise<void> {
  const settled = work.then(() => {}, () => {});
  if (!signal) return settled;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    void settled.then(done);
  });
}

/** Promises under way, each forgotten once it settles. */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  /** Tracks `p` and hands it back as it is. */
  track<T>(p: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = p.then(() => {}, () => {}).finally(() => this.running.delete(settled));
    this.running.add(settled);
    return p;
  }

  /** Resolves once nothing is under way, including what is tracked while it waits; never rejects. */
  async idle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
