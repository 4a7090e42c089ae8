// Times and durations in the text forms Dapr (Go) writes into metadata, so that apps parsing Dapr's answers
// parse Rapr's the same way.

const trimFraction = (digits: string) => digits.replace(/0+$/, "");

/**
 * A UTC time in Go's RFC3339Nano form: the fraction keeps up to nine digits with trailing zeros dropped.
 * `fraction` is the sub-second digits ("123456" for microseconds), for times more precise than a millisecond.
 */
export function rfc3339NanoParts(date: string, time: string, fraction = ""): string {
  const digits = trimFraction(fraction.slice(0, 9));
  return `${date}T${time}${digits ? `.${digits}` : ""}Z`;
}

/** RFC 3339 with the fraction's trailing zeros dropped, in UTC: "2024-05-01T12:30:05.12Z" (Go's RFC3339Nano). */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-05-01T12:30:05.120Z
  return rfc3339NanoParts(iso.slice(0, 10), iso.slice(11, 19), iso.slice(20, 23));
}

/** A time as Go's time.Time String() prints it in UTC ("2024-05-01 12:30:05.12 +0000 UTC"), as Dapr's cron `readTimeUTC`. */
export function goUtcString(ms: number): string {
  const iso = new Date(ms).toISOString();
  const digits = trimFraction(iso.slice(20, 23));
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${digits ? `.${digits}` : ""} +0000 UTC`;
}

/** A duration as Go's time.Duration String(): "0s", "850µs", "1.5ms", "2.25s", "1m30s", "1h0m5s". */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  const abs = Math.abs(ns);
  const scaled = (n: number, unit: number, suffix: string) => {
    const whole = Math.floor(n / unit);
    const fraction = trimFraction(String(n % unit).padStart(String(unit).length - 1, "0"));
    return `${whole}${fraction ? `.${fraction}` : ""}${suffix}`;
  };
  if (abs < 1e3) return `${sign}${abs}ns`;
  if (abs < 1e6) return sign + scaled(abs, 1e3, "µs");
  if (abs < 1e9) return sign + scaled(abs, 1e6, "ms");
  const hours = Math.floor(abs / 3.6e12);
  const minutes = Math.floor((abs % 3.6e12) / 6e10);
  const seconds = scaled(abs % 6e10, 1e9, "s");
  if (hours) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes) return `${sign}${minutes}m${seconds}`;
  return sign + seconds;
}
