// Bulk subscribe: collects single deliveries into batches of up to maxMessagesCount, or whatever arrived within
// maxAwaitDurationMs, and answers each message with its own entry's status.
import type { HandlerResult } from "../../components/contracts/pubsub.js";

export class Batcher<T> {
  private batch: { item: T; resolve: (r: HandlerResult) => void }[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private draining = false;

  constructor(
    private readonly maxCount: number,
    private readonly maxWaitMs: number,
    private readonly flushFn: (items: T[]) => Promise<HandlerResult[]>,
  ) {}

  add(item: T): Promise<HandlerResult> {
    return new Promise((resolve) => {
      this.batch.push({ item, resolve });
      if (this.draining || this.batch.length >= this.maxCount) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush() {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.batch;
    this.batch = [];
    if (!batch.length) return;
    this.flushFn(batch.map((b) => b.item)).then(
      (results) => batch.forEach((b, i) => b.resolve(results[i] ?? "retry")),
      () => batch.forEach((b) => b.resolve("retry")),
    );
  }

  /** The subscription drains: what was collected goes out now, and so does anything added from here on. */
  drain() {
    this.draining = true;
    this.flush();
  }

  close() {
    clearTimeout(this.timer);
    for (const b of this.batch) b.resolve("retry");
    this.batch = [];
  }
}
