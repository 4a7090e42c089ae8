// Dapr's time inputs for actor reminders and timers and for jobs, read as daprd reads them, turned into the
// engine's timer plan (first due time, schedule, repetitions, expiry). Every refusal is a TimeFormatError whose
// message names the field and the value.
//
// Which daprd code each follows:
// - reminders: daprd hands them to the Scheduler service (pkg/actors/internal/scheduler): `period` becomes
//   "@every <duration>" plus repeats, so years/months/weeks/days are refused; `dueTime` and `ttl` are read by
//   go-etcd-cron's parsePointInTime (RFC 3339, Go duration, ISO 8601 without repetitions).
// - actor timers: pkg/actors/api setReminderTimes (calendar periods allowed; no dueTime means now).
// - jobs: pkg/api/universal/jobs.go and go-etcd-cron's Builder.Parse.
// Deliberate differences, each refusing input daprd would accept and then misbehave on: a zero or negative
// period or "@every" (the Scheduler would fire in a tight loop), "R0/" (the Scheduler reads it as unlimited),
// ISO text with stray characters (dapr/kit reads "P1X" as zero), and a ttl that ends before the first fire.
import { Cron } from "croner";
import { goDuration } from "../components/go-format.js";
import { MAX_TIME_MS, parseGoDuration, parseIsoDuration, parseRfc3339, TimeFormatError, addSpan, type CalendarSpan } from "./durations.js";
import { compileCron, type Schedule } from "./schedule.js";

export { TimeFormatError } from "./durations.js";

/** When a timer first fires, how it repeats and when it ends: what the engine's schedule() takes. */
export interface TimerPlan {
  dueAt: number;
  schedule?: Schedule;
  /** Total fires, the first included; undefined = until the schedule or ttl ends. */
  repeats?: number;
  expiresAt?: number;
}

function inRange(field: string, text: string, at: number): number {
  if (!Number.isFinite(at) || Math.abs(at) > MAX_TIME_MS) throw new TimeFormatError(field, text, "the time is out of range");
  return Math.round(at);
}

/**
 * A point in time given as an RFC 3339 time, a Go duration or an ISO 8601 duration (no "R<n>/") counted from
 * `from`. A negative duration is a time in the past (daprd accepts it; the timer is due at once).
 */
export function parsePointInTime(field: string, text: string, from: number): number {
  const rfc = parseRfc3339(text, field);
  if (rfc !== undefined) return inRange(field, text, rfc);
  const go = parseGoDuration(text, field);
  if (go !== undefined) return inRange(field, text, from + go);
  const iso = parseIsoDuration(text, field);
  if (iso?.repetitions !== undefined) throw new TimeFormatError(field, text, 'repetitions ("R<n>/") are only allowed in a period');
  if (iso) return inRange(field, text, addSpan(from, iso));
  throw new TimeFormatError(field, text, 'expected a Go duration ("1h30m", "500ms"), an ISO 8601 duration ("PT1H30M") or an RFC 3339 time ("2030-01-02T15:04:05Z")');
}

export interface Period {
  span: CalendarSpan;
  /** From "R<n>/": the total number of fires; undefined = unlimited. */
  repeats?: number;
}

/**
 * A period: a Go duration, or an ISO 8601 duration with an optional "R<n>/" repetition count ("R5/PT10S").
 * `calendar` allows years, months, weeks and days (actor timers); reminders refuse them, as daprd's Scheduler does.
 */
export function parsePeriod(text: string, opts: { calendar: boolean; field?: string }): Period {
  const field = opts.field ?? "period";
  const go = parseGoDuration(text, field);
  const iso = go === undefined ? parseIsoDuration(text, field) : undefined;
  if (go === undefined && !iso) {
    throw new TimeFormatError(field, text, 'expected a Go duration ("10s", "1h30m") or an ISO 8601 duration with optional repetitions ("PT10S", "R5/PT10S")');
  }
  const span: CalendarSpan = iso ? { months: iso.months, days: iso.days, ms: iso.ms } : { months: 0, days: 0, ms: go! };
  if (iso && !opts.calendar && (iso.months || iso.days)) {
    throw new TimeFormatError(field, text, "years, months, weeks and days are not supported in a reminder period; use hours (PT24H)");
  }
  if (iso?.repetitions === 0) throw new TimeFormatError(field, text, "has zero repetitions");
  if (span.ms < 0) throw new TimeFormatError(field, text, "a period cannot be negative");
  if (span.months === 0 && span.days === 0 && span.ms < 1) throw new TimeFormatError(field, text, "a period must be at least 1ms");
  span.ms = Math.round(span.ms);
  return { span, repeats: iso?.repetitions };
}

const DESCRIPTORS: Record<string, string> = {
  "@yearly": "0 0 0 1 1 *",
  "@annually": "0 0 0 1 1 *",
  "@monthly": "0 0 0 1 * *",
  "@weekly": "0 0 0 * * 0",
  "@daily": "0 0 0 * * *",
  "@midnight": "0 0 0 * * *",
  "@hourly": "0 0 * * * *",
};

/**
 * A job's `schedule`: a cron pattern of exactly six fields, seconds first, read in UTC ("*\/10 * * * * *"),
 * a descriptor (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly), or "@every <Go duration>".
 */
export function parseJobSchedule(text: string): Schedule {
  const field = "schedule";
  const every = /^@every (.*)$/.exec(text);
  if (every) {
    const ms = parseGoDuration(every[1], field);
    if (ms === undefined) throw new TimeFormatError(field, text, '"@every" takes a Go duration, such as "@every 10s" or "@every 1h30m"');
    if (ms < 1) throw new TimeFormatError(field, text, '"@every" needs a duration of at least 1ms');
    return { every: { months: 0, days: 0, ms: Math.round(ms) } };
  }
  if (text.startsWith("@")) {
    const pattern = DESCRIPTORS[text];
    if (!pattern) throw new TimeFormatError(field, text, `unrecognized descriptor; expected one of ${Object.keys(DESCRIPTORS).join(", ")} or "@every <duration>"`);
    return { cron: pattern };
  }
  const fields = text.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new TimeFormatError(field, text, `a cron schedule has exactly 6 fields (second minute hour day-of-month month day-of-week), got ${text.trim() ? fields.length : 0}`);
  }
  const pattern = fields.join(" ");
  let cron: Cron;
  try {
    cron = compileCron(pattern);
  } catch (err) {
    throw new TimeFormatError(field, text, (err instanceof Error ? err.message : String(err)).replace(/^CronPattern:\s*/, ""));
  }
  if (!cron.nextRun()) throw new TimeFormatError(field, text, "the pattern never matches a future time");
  return { cron: pattern };
}

/** The ttl: a duration counted from `from` (the first due time) or an RFC 3339 time; it must not end before `from`. */
function parseTtl(text: string, from: number, now: number): number {
  const expiresAt = parsePointInTime("ttl", text, from);
  if (expiresAt < from || expiresAt < now) throw new TimeFormatError("ttl", text, "the timer would expire before it first fires");
  return expiresAt;
}

export interface ReminderInput {
  dueTime?: string;
  period?: string;
  ttl?: string;
}

/**
 * An actor reminder, as daprd (Scheduler-backed) reads it. Without dueTime the first fire is one period from now.
 * A reminder needs a dueTime or a period, and a ttl needs a period.
 */
export function reminderPlan(input: ReminderInput, now: number): TimerPlan {
  const { dueTime, period, ttl } = input;
  if (!dueTime && !period) throw new TimeFormatError("dueTime", "", "a reminder needs a dueTime, a period or both");
  if (ttl && !period) throw new TimeFormatError("ttl", ttl, "a ttl needs a period (a one-shot reminder ends when it fires)");
  const parsed = period ? parsePeriod(period, { calendar: false }) : undefined;
  const schedule: Schedule | undefined = parsed && { every: parsed.span };
  const dueAt = dueTime ? parsePointInTime("dueTime", dueTime, now) : addSpan(now, parsed!.span);
  return {
    dueAt,
    schedule,
    repeats: parsed?.repeats,
    expiresAt: ttl ? parseTtl(ttl, dueTime ? dueAt : now, now) : undefined,
  };
}

/** An actor timer, as daprd's in-memory timers read it: no dueTime means now, calendar periods are allowed. */
export function actorTimerPlan(input: ReminderInput, now: number): TimerPlan {
  const { dueTime, period, ttl } = input;
  const dueAt = dueTime ? parsePointInTime("dueTime", dueTime, now) : now;
  const parsed = period ? parsePeriod(period, { calendar: true }) : undefined;
  return {
    dueAt,
    schedule: parsed && { every: parsed.span },
    repeats: parsed?.repeats,
    expiresAt: ttl ? parseTtl(ttl, dueAt, now) : undefined,
  };
}

export interface JobInput {
  schedule?: string;
  dueTime?: string;
  /** Total fires; must be at least 1 when given. */
  repeats?: number;
  ttl?: string;
}

/**
 * A job, as daprd and go-etcd-cron read it: a schedule or a dueTime (or both); without dueTime the first fire is
 * the schedule's first tick after now. Repeats need a schedule (above 1) and must be at least 1; a ttl needs a schedule.
 */
export function jobPlan(input: JobInput, now: number): TimerPlan {
  const { dueTime, repeats, ttl } = input;
  if (!input.schedule && !dueTime) throw new TimeFormatError("schedule", "", "a job needs a schedule, a dueTime or both");
  if (repeats !== undefined && (!Number.isSafeInteger(repeats) || repeats < 1)) {
    throw new TimeFormatError("repeats", String(repeats), "repeats must be a whole number of at least 1");
  }
  if (!input.schedule && repeats !== undefined && repeats > 1) throw new TimeFormatError("repeats", String(repeats), "a job needs a schedule to repeat");
  if (!input.schedule && ttl) throw new TimeFormatError("ttl", ttl, "a job needs a schedule to have a ttl");
  const schedule = input.schedule ? parseJobSchedule(input.schedule) : undefined;
  const dueAt = dueTime ? parsePointInTime("dueTime", dueTime, now) : firstTick(schedule!, now);
  return {
    dueAt,
    schedule,
    repeats: schedule ? repeats : 1,
    expiresAt: ttl ? parseTtl(ttl, dueTime ? dueAt : now, now) : undefined,
  };
}

function firstTick(schedule: Schedule, now: number): number {
  if ("every" in schedule) return addSpan(now, schedule.every);
  return compileCron(schedule.cron).nextRun(new Date(now))!.getTime();
}

/** A schedule as daprd reports it back: "@every 10s" for periods (Go's duration text), the cron pattern otherwise. */
export function scheduleText(schedule: Schedule): string {
  if ("cron" in schedule) return schedule.cron;
  const { months, days, ms } = schedule.every;
  if (!months && !days) return `@every ${goDuration(ms)}`;
  return `P${months ? `${months}M` : ""}${days ? `${days}D` : ""}${ms ? `T${ms / 1000}S` : ""}`;
}
