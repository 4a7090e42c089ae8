// The schedule grammar Dapr's cron binding accepts: 5- or 6-field cron (leading seconds optional), the
// @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly shortcuts, "@every <Go duration>", and an optional
// "CRON_TZ=<IANA zone> " (or "TZ=") prefix. Calendar arithmetic is croner's; this file only adapts the grammar.
import { Cron } from "croner";
import { parseDuration } from "../../src/components/metadata-schema.js";

export interface Schedule {
  /** The IANA zone the calendar fields are read in. */
  readonly timeZone: string;
  /** The first tick strictly after `after`; `anchor` is when ticking began (what "@every" counts from). */
  next(after: number, anchor: number): number | undefined;
}

/** Thrown for a schedule that cannot be parsed; the message says why, without the field name. */
export class ScheduleError extends Error {}

const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function parseSchedule(text: string): Schedule {
  let rest = text.trim();
  let zone: string | undefined;
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(rest);
  if (tz) {
    zone = tz[1];
    rest = rest.slice(tz[0].length);
    if (!isKnownZone(zone)) throw new ScheduleError(`unknown time zone "${zone}"`);
  }
  const timeZone = zone ?? localZone();

  const every = /^@every\s+(\S+)$/i.exec(rest);
  if (every) return everySchedule(every[1], timeZone);
  if (/^@every\b/i.test(rest)) throw new ScheduleError('"@every" needs one duration, such as "@every 15s" or "@every 1m30s"');
  return calendarSchedule(rest, zone, timeZone);
}

function everySchedule(durationText: string, timeZone: string): Schedule {
  const interval = parseDuration(durationText);
  // A bare number is seconds for other metadata fields, but "@every" takes a Go duration only, as in Dapr.
  if (interval === undefined || /^\d+(\.\d+)?$/.test(durationText)) {
    throw new ScheduleError(`"@every" needs a duration with a unit, such as "15s", "1m30s" or "500ms", got "${durationText}"`);
  }
  if (interval < 1) throw new ScheduleError(`"@every" needs a duration of at least 1ms, got "${durationText}"`);
  return {
    timeZone,
    next(after, anchor) {
      const elapsed = Math.max(after - anchor, 0);
      return anchor + (Math.floor(elapsed / interval) + 1) * interval;
    },
  };
}

function calendarSchedule(pattern: string, zone: string | undefined, timeZone: string): Schedule {
  let cron: Cron;
  try {
    cron = new Cron(pattern, { paused: true, timezone: zone, mode: "5-or-6-parts" });
  } catch (err) {
    throw new ScheduleError(err instanceof Error ? err.message.replace(/^CronPattern:\s*/, "") : String(err));
  }
  if (!cron.nextRun()) throw new ScheduleError("the pattern never matches a future time");
  return {
    timeZone,
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
  };
}

function isKnownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
