// The three text forms Dapr reads times in, each parsed strictly: Go durations (time.ParseDuration), ISO 8601
// durations with an optional "R<n>/" repetition (dapr/kit time.ParseISO8601Duration), and RFC 3339 times.
// Each parser returns undefined when the text is not of its form and throws TimeFormatError when it is of its
// form but out of range, so callers can try the forms in turn.

/** A malformed or out-of-range time, duration, period or schedule; `field` names the input it came from. */
export class TimeFormatError extends Error {
  constructor(
    readonly field: string,
    readonly value: string,
    reason: string,
  ) {
    super(`invalid ${field} "${value}": ${reason}`);
    this.name = "TimeFormatError";
  }
}

const MAX_NANOS = (1n << 63n) - 1n; // Go's time.Duration range
/** The furthest instant a JS Date holds, in ms either side of the epoch. */
export const MAX_TIME_MS = 8.64e15;

const GO_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // micro sign
  "\u03bcs": 1_000n, // Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$/;
const GO_PART = /(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g;

/**
 * A Go duration ("1h2m3.5s", "-250ms", "0") in milliseconds (fractional below 1 ms), or undefined when the text is
 * not one. Throws when it is one but overflows Go's int64 nanoseconds, as time.ParseDuration refuses it.
 */
export function parseGoDuration(text: string, field: string): number | undefined {
  if (!GO_DURATION.test(text)) return undefined;
  const negative = text.startsWith("-");
  let nanos = 0n;
  for (const [, whole, fraction = "", unit] of text.replace(/^[-+]/, "").matchAll(GO_PART)) {
    const scale = GO_UNITS[unit];
    const digits = fraction.slice(0, 18); // Go stops reading fraction digits once they stop mattering
    nanos += BigInt(whole || "0") * scale + (BigInt(digits || "0") * scale) / 10n ** BigInt(digits.length);
    if (nanos > MAX_NANOS + (negative ? 1n : 0n)) throw new TimeFormatError(field, text, "duration overflows Go's time.Duration (about 292 years)");
  }
  const ms = Number(nanos) / 1e6;
  return negative ? -ms : ms;
}

/** An ISO 8601 duration split as Go's AddDate needs it: whole months and days, then a fixed part in ms. */
export interface CalendarSpan {
  months: number;
  days: number;
  ms: number;
}

export interface IsoDuration extends CalendarSpan {
  /** From an "R<n>/" prefix; undefined when there is none (unlimited). */
  repetitions?: number;
}

const ISO_REPEAT = /^R(\d+)(?:\/|$)/;
const ISO_TOKEN = /(\d+)([YMWDHS])/y;
const DATE_UNITS = new Set(["Y", "M", "W", "D"]);
const TIME_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000 };

/**
 * An ISO 8601 duration ("P1DT2H", "PT10S", "P2W", "R5/PT10S", "R5") or undefined when the text is not one.
 * Stricter than dapr/kit, which silently reads stray characters and trailing digits ("P1X", "PT5") as zero:
 * those are refused here. Throws for numbers too large to be a duration.
 */
export function parseIsoDuration(text: string, field: string): IsoDuration | undefined {
  const result: IsoDuration = { months: 0, days: 0, ms: 0 };
  let rest = text;
  const repeat = ISO_REPEAT.exec(rest);
  if (repeat) {
    result.repetitions = Number(repeat[1]);
    if (!Number.isSafeInteger(result.repetitions)) throw new TimeFormatError(field, text, "the repetition count is too large");
    rest = rest.slice(repeat[0].length);
    if (rest === "") return result;
  }
  if (!rest.startsWith("P") || rest.length < 2) return undefined;
  const timeAt = rest.indexOf("T");
  const datePart = timeAt < 0 ? rest.slice(1) : rest.slice(1, timeAt);
  const timePart = timeAt < 0 ? undefined : rest.slice(timeAt + 1);
  const date = isoTokens(datePart);
  const time = timePart === undefined ? [] : isoTokens(timePart);
  if (!date || !time || (timePart !== undefined && time.length === 0) || (date.length === 0 && time.length === 0)) return undefined;
  for (const [n, unit] of date) {
    if (!DATE_UNITS.has(unit)) return undefined;
    if (unit === "Y") result.months += n * 12;
    else if (unit === "M") result.months += n;
    else result.days += unit === "W" ? n * 7 : n;
  }
  for (const [n, unit] of time) {
    if (!(unit in TIME_MS)) return undefined;
    result.ms += n * TIME_MS[unit];
  }
  if (![result.months, result.days, result.ms].every(Number.isSafeInteger) || result.ms > Number(MAX_NANOS / 1_000_000n)) {
    throw new TimeFormatError(field, text, "duration is too large");
  }
  return result;
}

function isoTokens(part: string): [number, string][] | undefined {
  const tokens: [number, string][] = [];
  ISO_TOKEN.lastIndex = 0;
  while (ISO_TOKEN.lastIndex < part.length) {
    const m = ISO_TOKEN.exec(part);
    if (!m) return undefined;
    tokens.push([Number(m[1]), m[2]]);
  }
  return tokens;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 time ("2024-05-01T12:30:05Z", "…05.123456789+02:00") as unix ms, or undefined when the text is not one. */
export function parseRfc3339(text: string, field: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = new Date(utcDate(year, month, 0)).getUTCDate();
  const offsetH = Number(m[10] ?? 0);
  const offsetM = Number(m[11] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetH > 23 || offsetM > 59) {
    throw new TimeFormatError(field, text, "the date or time is out of range");
  }
  const fractionMs = Number(`0.${m[7] ?? "0"}`) * 1000;
  const offsetMs = (m[9] === "-" ? -1 : 1) * (offsetH * 60 + offsetM) * 60_000;
  return utcDate(year, month - 1, day) + ((hour * 60 + minute) * 60 + second) * 1000 + fractionMs - offsetMs;
}

/** Midnight UTC of a date, for any year (Date.UTC reads years 0-99 as 1900-1999). */
function utcDate(year: number, monthIndex: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  return d.getTime();
}

/** `at` plus a calendar span, normalising as Go's AddDate does (Jan 31 + 1 month = Mar 2 or 3). */
export function addSpan(at: number, span: CalendarSpan): number {
  if (span.months === 0 && span.days === 0) return at + span.ms;
  const d = new Date(at);
  d.setUTCFullYear(d.getUTCFullYear(), d.getUTCMonth() + span.months, d.getUTCDate() + span.days);
  return d.getTime() + span.ms;
}
