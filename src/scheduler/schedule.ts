// How a repeating timer advances: a fixed or calendar period ("every"), or a 6-field cron pattern read in UTC.
// Both are plain JSON so entries persist as they are.
import { Cron } from "croner";
import { addSpan, type CalendarSpan } from "./durations.js";

export type Schedule = { every: CalendarSpan } | { cron: string };

/** Steps a calendar period walks from the anchor before it jumps straight to `after` (a long outage). */
const MAX_CALENDAR_STEPS = 10_000;
const MAX_CACHED_PATTERNS = 10_000;
const patterns = new Map<string, Cron>();

/** A compiled cron pattern (seconds first, UTC); throws croner's error for a bad one. Compiled once per pattern. */
export function compileCron(pattern: string): Cron {
  let cron = patterns.get(pattern);
  if (!cron) {
    cron = new Cron(pattern, { paused: true, timezone: "UTC", mode: "6-part" });
    if (patterns.size >= MAX_CACHED_PATTERNS) patterns.clear();
    patterns.set(pattern, cron);
  }
  return cron;
}

/**
 * The first tick of the schedule strictly after `after`, where `anchor` is a tick the schedule passed through
 * (periods count from it; cron ignores it). Ticks between anchor and `after` are skipped, not returned one by one:
 * this is what collapses an outage's missed ticks into one fire. Undefined when the schedule has no further tick.
 */
export function nextTick(schedule: Schedule, anchor: number, after: number): number | undefined {
  if ("cron" in schedule) return compileCron(schedule.cron).nextRun(new Date(after))?.getTime();
  const span = schedule.every;
  if (span.months === 0 && span.days === 0) {
    const steps = after < anchor ? 1 : Math.floor((after - anchor) / span.ms) + 1;
    return anchor + steps * span.ms;
  }
  let at = anchor;
  for (let i = 0; i < MAX_CALENDAR_STEPS && at <= after; i++) at = addSpan(at, span);
  return at > after ? at : addSpan(after, span);
}
