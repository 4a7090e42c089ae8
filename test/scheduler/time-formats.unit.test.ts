import { describe, expect, test } from "bun:test";
import { parseGoDuration, parseIsoDuration, parseRfc3339, addSpan } from "../../src/scheduler/durations.js";
import { nextTick } from "../../src/scheduler/schedule.js";
import {
  actorTimerPlan, jobPlan, parseJobSchedule, parsePeriod, parsePointInTime, reminderPlan, scheduleText, TimeFormatError,
} from "../../src/scheduler/time-formats.js";

const NOW = Date.UTC(2030, 0, 1, 0, 0, 0);
const S = 1000;

function refused(fn: () => unknown, field: string, text: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TimeFormatError);
  expect((caught as TimeFormatError).field).toBe(field);
  expect((caught as Error).message).toMatch(text);
}

describe("Go durations", () => {
  test.each([
    ["1h2m3.5s", 3_723_500],
    ["-250ms", -250],
    ["0", 0],
    ["+5s", 5000],
    ["1.s", 1000],
    [".5s", 500],
    ["1500us", 1.5],
    ["1\u00b5s", 0.001],
    ["2562047h", 2_562_047 * 3_600_000],
  ])("%s", (text, ms) => expect(parseGoDuration(text, "f")).toBe(ms));

  test.each(["", "1", "1x", "h", "1h 2m", "--1s", ".s", "1e3s", "P1D"])("%p is not a Go duration", (text) => {
    expect(parseGoDuration(text, "f")).toBeUndefined();
  });

  test("overflow of int64 nanoseconds is refused, as time.ParseDuration does", () => {
    expect(parseGoDuration("9223372036854775807ns", "f")).toBeCloseTo(9_223_372_036_854.775, 2);
    refused(() => parseGoDuration("9223372036854775808ns", "period"), "period", /overflows/);
    refused(() => parseGoDuration("2562048h", "period"), "period", /overflows/);
  });
});

describe("ISO 8601 durations", () => {
  test.each([
    ["P1DT2H", { months: 0, days: 1, ms: 7_200_000 }],
    ["PT10S", { months: 0, days: 0, ms: 10_000 }],
    ["P2W", { months: 0, days: 14, ms: 0 }],
    ["P1Y2M3DT4H5M6S", { months: 14, days: 3, ms: 14_706_000 }],
    ["PT1M", { months: 0, days: 0, ms: 60_000 }],
    ["P0D", { months: 0, days: 0, ms: 0 }],
    ["R5/PT10S", { months: 0, days: 0, ms: 10_000, repetitions: 5 }],
    ["R5", { months: 0, days: 0, ms: 0, repetitions: 5 }],
    ["R5/", { months: 0, days: 0, ms: 0, repetitions: 5 }],
  ])("%s", (text, value) => expect(parseIsoDuration(text, "f")).toEqual(value));

  test.each(["P", "PT", "P1X", "PT5", "PT1D", "P1H", "R/PT1S", "PT0.5S", "PT-5S", "10D", "R5x", "P1DT"])("%p is refused", (text) => {
    expect(parseIsoDuration(text, "f")).toBeUndefined();
  });

  test("calendar arithmetic follows Go's AddDate (leap years, month overflow)", () => {
    const span = parseIsoDuration("P1Y2M3D", "f")!;
    expect(addSpan(Date.UTC(2020, 1, 3, 11, 12, 13), span)).toBe(Date.UTC(2021, 3, 6, 11, 12, 13));
    expect(addSpan(Date.UTC(2019, 1, 3, 11, 12, 13), span)).toBe(Date.UTC(2020, 3, 6, 11, 12, 13));
    expect(addSpan(Date.UTC(2021, 0, 31), { months: 1, days: 0, ms: 0 })).toBe(Date.UTC(2021, 2, 3));
  });
});

describe("RFC 3339 times", () => {
  test("Z, offsets, fractions to the millisecond, years below 100", () => {
    expect(parseRfc3339("2030-01-02T15:04:05Z", "f")).toBe(Date.UTC(2030, 0, 2, 15, 4, 5));
    expect(parseRfc3339("2030-01-02T15:04:05.25+02:00", "f")).toBe(Date.UTC(2030, 0, 2, 13, 4, 5, 250));
    expect(parseRfc3339("2030-01-02T15:04:05.123456789-01:30", "f")).toBeCloseTo(Date.UTC(2030, 0, 2, 16, 34, 5, 123), -1);
    expect(parseRfc3339("0001-01-01T00:00:00Z", "f")).toBe(-62_135_596_800_000);
  });

  test("other shapes are not RFC 3339; impossible dates are refused", () => {
    for (const text of ["2030-01-02 15:04:05Z", "2030-01-02T15:04:05", "2030-1-2T15:04:05Z", "2030-01-02t15:04:05z"]) {
      expect(parseRfc3339(text, "f")).toBeUndefined();
    }
    refused(() => parseRfc3339("2030-02-30T00:00:00Z", "dueTime"), "dueTime", /out of range/);
    refused(() => parseRfc3339("2030-01-02T24:00:00Z", "dueTime"), "dueTime", /out of range/);
  });
});

describe("due times", () => {
  test("a duration counts from now; an RFC 3339 time is absolute; a negative duration is in the past", () => {
    expect(parsePointInTime("dueTime", "1h2m3.5s", NOW)).toBe(NOW + 3_723_500);
    expect(parsePointInTime("dueTime", "P1MT2H10M3S", NOW)).toBe(Date.UTC(2030, 1, 1, 2, 10, 3));
    expect(parsePointInTime("dueTime", "2031-01-01T00:00:00Z", NOW)).toBe(Date.UTC(2031, 0, 1));
    expect(parsePointInTime("dueTime", "-5s", NOW)).toBe(NOW - 5000);
  });

  test("repetitions, garbage and empty text are refused with the field named", () => {
    refused(() => parsePointInTime("dueTime", "R5/PT30M", NOW), "dueTime", /only allowed in a period/);
    refused(() => parsePointInTime("dueTime", "soon", NOW), "dueTime", /invalid dueTime "soon": expected a Go duration/);
    refused(() => parsePointInTime("dueTime", "", NOW), "dueTime", /expected/);
    refused(() => parsePointInTime("dueTime", "P99999999999Y", NOW), "dueTime", /out of range|too large/);
  });
});

describe("periods", () => {
  test("Go and ISO durations, with R<n> repetitions", () => {
    expect(parsePeriod("10s", { calendar: false })).toEqual({ span: { months: 0, days: 0, ms: 10_000 }, repeats: undefined });
    expect(parsePeriod("R5/PT10S", { calendar: false })).toEqual({ span: { months: 0, days: 0, ms: 10_000 }, repeats: 5 });
    expect(parsePeriod("P1D", { calendar: true }).span).toEqual({ months: 0, days: 1, ms: 0 });
  });

  test("refusals: calendar units for reminders, zero, negative, R0, garbage, overflow", () => {
    refused(() => parsePeriod("P1D", { calendar: false }), "period", /not supported in a reminder period/);
    refused(() => parsePeriod("0s", { calendar: false }), "period", /at least 1ms/);
    refused(() => parsePeriod("PT0S", { calendar: true }), "period", /at least 1ms/);
    refused(() => parsePeriod("R5", { calendar: false }), "period", /at least 1ms/);
    refused(() => parsePeriod("-10s", { calendar: false }), "period", /negative/);
    refused(() => parsePeriod("R0/PT1S", { calendar: false }), "period", /zero repetitions/);
    refused(() => parsePeriod("every minute", { calendar: false }), "period", /expected a Go duration/);
    refused(() => parsePeriod("3000000h", { calendar: false }), "period", /overflows/);
    refused(() => parsePeriod("2030-01-01T00:00:00Z", { calendar: false }), "period", /expected/);
  });
});

describe("job schedules", () => {
  test("6-field cron in UTC, descriptors, @every", () => {
    expect(parseJobSchedule("*/10 * * * * *")).toEqual({ cron: "*/10 * * * * *" });
    expect(parseJobSchedule("@daily")).toEqual({ cron: "0 0 0 * * *" });
    expect(parseJobSchedule("@every 1h30m")).toEqual({ every: { months: 0, days: 0, ms: 5_400_000 } });
    const daily = parseJobSchedule("@daily");
    expect(nextTick(daily, 0, Date.UTC(2030, 4, 6, 13))).toBe(Date.UTC(2030, 4, 7));
    expect(nextTick(parseJobSchedule("@hourly"), 0, Date.UTC(2030, 4, 6, 13, 0, 0))).toBe(Date.UTC(2030, 4, 6, 14));
    expect(nextTick(parseJobSchedule("@weekly"), 0, Date.UTC(2030, 4, 6))).toBe(Date.UTC(2030, 4, 12)); // a Sunday
    expect(nextTick(parseJobSchedule("@yearly"), 0, Date.UTC(2030, 4, 6))).toBe(Date.UTC(2031, 0, 1));
    expect(nextTick(parseJobSchedule("30 * * * * *"), 0, Date.UTC(2030, 0, 1, 0, 0, 30))).toBe(Date.UTC(2030, 0, 1, 0, 1, 30));
  });

  test("refusals: 5 or 7 fields, bad values, unknown descriptors, bad @every, never-matching patterns", () => {
    refused(() => parseJobSchedule("0 0 * * *"), "schedule", /exactly 6 fields.*got 5/);
    refused(() => parseJobSchedule("0 0 0 * * * 2030"), "schedule", /got 7/);
    refused(() => parseJobSchedule(""), "schedule", /got 0/);
    refused(() => parseJobSchedule("61 * * * * *"), "schedule", /second/);
    refused(() => parseJobSchedule("@fortnightly"), "schedule", /unrecognized descriptor/);
    refused(() => parseJobSchedule("@every 0s"), "schedule", /at least 1ms/);
    refused(() => parseJobSchedule("@every -1s"), "schedule", /at least 1ms/);
    refused(() => parseJobSchedule("@every PT1S"), "schedule", /Go duration/);
    refused(() => parseJobSchedule("0 0 0 30 2 *"), "schedule", /never matches/);
  });

  test("schedules print back as daprd reports them", () => {
    expect(scheduleText({ every: { months: 0, days: 0, ms: 90_000 } })).toBe("@every 1m30s");
    expect(scheduleText({ cron: "0 0 0 * * *" })).toBe("0 0 0 * * *");
  });
});

describe("reminder plans (daprd's Scheduler-backed reminders)", () => {
  test("dueTime fires first at dueTime; without it the first fire is one period from now", () => {
    expect(reminderPlan({ dueTime: "5s", period: "R3/PT10S" }, NOW)).toEqual({
      dueAt: NOW + 5 * S, schedule: { every: { months: 0, days: 0, ms: 10 * S } }, repeats: 3, expiresAt: undefined,
    });
    expect(reminderPlan({ period: "10s" }, NOW).dueAt).toBe(NOW + 10 * S);
    expect(reminderPlan({ dueTime: "2030-01-01T00:01:00Z" }, NOW)).toMatchObject({ dueAt: NOW + 60 * S, schedule: undefined });
  });

  test("ttl counts from dueTime (or now) and may be an RFC 3339 time", () => {
    expect(reminderPlan({ dueTime: "10s", period: "1s", ttl: "1m" }, NOW).expiresAt).toBe(NOW + 70 * S);
    expect(reminderPlan({ period: "1s", ttl: "2030-01-01T01:00:00Z" }, NOW).expiresAt).toBe(NOW + 3600 * S);
  });

  test("refusals", () => {
    refused(() => reminderPlan({}, NOW), "dueTime", /needs a dueTime, a period or both/);
    refused(() => reminderPlan({ dueTime: "1s", ttl: "1m" }, NOW), "ttl", /needs a period/);
    refused(() => reminderPlan({ dueTime: "1m", period: "1s", ttl: "2030-01-01T00:00:30Z" }, NOW), "ttl", /expire before it first fires/);
    refused(() => reminderPlan({ period: "1s", ttl: "-1s" }, NOW), "ttl", /expire before/);
    refused(() => reminderPlan({ period: "1s", ttl: "forever" }, NOW), "ttl", /expected/);
    refused(() => reminderPlan({ dueTime: "tomorrow", period: "1s" }, NOW), "dueTime", /expected/);
  });
});

describe("actor timer plans", () => {
  test("no dueTime means now; calendar periods allowed", () => {
    expect(actorTimerPlan({}, NOW)).toMatchObject({ dueAt: NOW, schedule: undefined });
    expect(actorTimerPlan({ period: "R2/P1D" }, NOW)).toMatchObject({ dueAt: NOW, schedule: { every: { days: 1 } }, repeats: 2 });
  });
});

describe("job plans", () => {
  test("without dueTime the first fire is the schedule's first tick after now", () => {
    expect(jobPlan({ schedule: "@every 10s" }, NOW).dueAt).toBe(NOW + 10 * S);
    expect(jobPlan({ schedule: "@hourly" }, NOW + 1).dueAt).toBe(NOW + 3600 * S);
    expect(jobPlan({ schedule: "@every 10s", dueTime: "1s", repeats: 3, ttl: "1h" }, NOW)).toMatchObject({
      dueAt: NOW + S, repeats: 3, expiresAt: NOW + 3601 * S,
    });
    expect(jobPlan({ dueTime: "1s" }, NOW)).toMatchObject({ dueAt: NOW + S, schedule: undefined, repeats: 1 });
  });

  test("refusals", () => {
    refused(() => jobPlan({}, NOW), "schedule", /needs a schedule, a dueTime or both/);
    refused(() => jobPlan({ dueTime: "1s", repeats: 2 }, NOW), "repeats", /needs a schedule to repeat/);
    refused(() => jobPlan({ schedule: "@daily", repeats: 0 }, NOW), "repeats", /at least 1/);
    refused(() => jobPlan({ schedule: "@daily", repeats: 1.5 }, NOW), "repeats", /whole number/);
    refused(() => jobPlan({ dueTime: "1s", ttl: "1h" }, NOW), "ttl", /needs a schedule to have a ttl/);
    refused(() => jobPlan({ schedule: "@daily", dueTime: "2h", ttl: "2030-01-01T01:00:00Z" }, NOW), "ttl", /expire before/);
  });
});
