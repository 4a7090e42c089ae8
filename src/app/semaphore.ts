/** Limits how many async operations run at once; unlimited when max is undefined. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max?: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.max !== undefined) {
      if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
      this.active++;
    }
    try {
      return await fn();
    } finally {
      if (this.max !== undefined) {
        this.active--;
        this.waiting.shift()?.();
      }
    }
  }

  get inFlight(): number {
    return this.active;
  }
}
