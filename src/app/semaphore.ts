/** Limits how many async operations run at once; unlimited when max is undefined. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max?: number) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.max === undefined ? fn() : this.limited(fn, this.max);
  }

  private async limited<T>(fn: () => Promise<T>, max: number): Promise<T> {
    if (this.active >= max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
