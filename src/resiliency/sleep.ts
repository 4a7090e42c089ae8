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
