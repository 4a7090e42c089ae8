// The clock of bench/pacer.ts: sleeps in a futex wait (sub-millisecond precision, no spinning) until each tick is
// due, then tells the main thread.
declare const self: Worker;

self.onmessage = (event: MessageEvent<{ rate: number; total: number; start: number }>) => {
  const { rate, total, start } = event.data;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < total; i++) {
    const wait = start + (i * 1000) / rate - (performance.timeOrigin + performance.now());
    if (wait > 0) Atomics.wait(cell, 0, 0, wait);
    postMessage(i);
  }
};
