// Open-loop pacing at a steady rate: tick i is due at start + i/rate. A main-thread setInterval(1) fires every
// ~1.1 ms and so sends about one tick in nine as a pair, which queues the second request of the pair behind the
// first in every process on the path; a worker sleeping until each due time keeps ticks evenly spaced (lag p99
// ~0.25 ms here), as a load generator with a precise clock (fortio, wrk2) sends them.

/** Calls `tick(i)` for i = 0 … total-1 at `rate` per second; resolves after the last tick. */
export function paced(rate: number, total: number, tick: (i: number) => void): Promise<void> {
  if (total <= 0) return Promise.resolve();
  const worker = new Worker(new URL("./pacer-worker.ts", import.meta.url).href);
  return new Promise<void>((resolve, reject) => {
    worker.onerror = (event) => (worker.terminate(), reject(new Error(`pacer worker: ${event.message}`)));
    worker.onmessage = (event: MessageEvent<number>) => {
      tick(event.data);
      if (event.data === total - 1) {
        worker.terminate();
        resolve();
      }
    };
    worker.postMessage({ rate, total, start: performance.timeOrigin + performance.now() + 20 });
  });
}
