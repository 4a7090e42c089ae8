// bindings.cron: an input binding that triggers the app on a schedule. Ticks never overlap: a tick that comes
// while the app is still handling the previous one is skipped. Each event carries no data and Dapr's metadata
// `timeZone` and `readTimeUTC`.
import { goUtcString } from "../../src/components/go-format.js";
import type { BindingEventHandler, InputBinding, InputReader } from "../../src/components/contracts/bindings.js";
import { field, MetadataError } from "../../src/components/metadata-schema.js";
import { definePlugin, type Component } from "../../src/components/plugin.js";
import type { Logger } from "../../src/observability/logger.js";
import { parseSchedule, ScheduleError, type Schedule } from "./schedule.js";

/** setTimeout's longest delay; a tick further away (a yearly one) is reached in several waits. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Where the reader takes the time and its timers from; tests drive a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

class CronReader implements InputReader {
  private readonly anchor: number;
  private timer: unknown;
  private inFlight: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly schedule: Schedule,
    private readonly handler: BindingEventHandler,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.anchor = clock.now();
    this.arm(schedule.next(this.anchor, this.anchor));
  }

  private arm(due: number | undefined) {
    if (this.closed) return;
    if (due === undefined) {
      this.log.warn("cron schedule has no further ticks; stopping");
      return;
    }
    const wait = Math.min(Math.max(due - this.clock.now(), 0), MAX_TIMER_MS);
    this.timer = this.clock.setTimeout(() => this.onTimer(due), wait);
  }

  private onTimer(due: number) {
    if (this.closed) return;
    const now = this.clock.now();
    if (now < due) return this.arm(due);
    if (this.inFlight) {
      this.log.debug("cron tick skipped: the previous event is still being handled", { due: new Date(due).toISOString() });
    } else {
      this.inFlight = this.deliver(now).finally(() => (this.inFlight = undefined));
    }
    this.arm(this.schedule.next(now, this.anchor));
  }

  private async deliver(now: number) {
    try {
      await this.handler({
        data: new Uint8Array(0),
        metadata: { timeZone: this.schedule.timeZone, readTimeUTC: goUtcString(now) },
      });
    } catch (err) {
      this.log.warn("cron event was not accepted by the app; the schedule goes on", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  async close() {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    await this.inFlight;
  }
}

export class CronBinding implements Component, InputBinding {
  private reader: CronReader | undefined;
  private closed = false;

  constructor(private readonly schedule: Schedule, private readonly log: Logger, private readonly clock: Clock = systemClock) {}

  async read(handler: BindingEventHandler): Promise<InputReader> {
    if (this.closed) throw new Error("cron binding is closed");
    if (this.reader) throw new Error("cron binding is already being read");
    this.reader = new CronReader(this.schedule, handler, this.log, this.clock);
    return this.reader;
  }

  async close() {
    this.closed = true;
    await this.reader?.close();
  }
}

export default definePlugin({
  type: "bindings.cron",
  metadata: {
    schedule: field.string({ required: true }),
  },
  async create(meta, ctx) {
    let schedule: Schedule;
    try {
      schedule = parseSchedule(meta.schedule);
    } catch (err) {
      if (!(err instanceof ScheduleError)) throw err;
      throw new MetadataError("schedule", `metadata field "schedule": ${err.message}, got "${meta.schedule}"`);
    }
    return new CronBinding(schedule, ctx.logger.child(ctx.name));
  },
});
