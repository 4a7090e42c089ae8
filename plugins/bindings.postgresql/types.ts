// How column values reach the JSON answer, matching what Dapr's binding (pgx values through encoding/json) writes:
// - int8 and numeric: JSON numbers with every digit PostgreSQL sent kept; NaN and Infinity stay strings.
// - timestamp, timestamptz, date: Go's RFC3339Nano text in UTC ("2024-05-01T12:30:05.123456Z"), built from the
//   server's own text so microseconds survive; timestamp (no zone) is read as UTC, as pgx does, and a date is its
//   midnight in UTC; 1 BC is year 0000. Values Go could not print (infinity, years before 1 BC or past 9999) keep
//   the server's text.
// The server's text is ISO because the binding's connections ask for DateStyle ISO.
import { rfc3339NanoParts } from "../../src/components/go-format.js";

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const exactNumber = (text: string) => (/^-?\d+(\.\d+)?$/.test(text) ? rawJson(text) : text);

const DATE = /^(\d{4})-(\d\d)-(\d\d)( BC)?$/;
const TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/;

/** The proleptic ISO year (1 BC is year 0, as in Go) of PostgreSQL's year text, or undefined past Go's 0..9999. */
function isoYear(year: string, bc: string | undefined): number | undefined {
  const y = bc ? 1 - Number(year) : Number(year);
  return y >= 0 && y <= 9999 ? y : undefined;
}

const pad4 = (n: number) => String(n).padStart(4, "0");

/** "2024-01-01 10:00:00.123456[+05:30][ BC]" → RFC3339Nano in UTC; other text (infinity, 5-digit years) as it is. */
export function timestampText(text: string): string {
  const m = TIMESTAMP.exec(text);
  if (!m) return text;
  const [, y, mo, d, h, mi, s, fraction = "", sign, oh = "0", om = "0", os = "0", bc] = m;
  const year = isoYear(y, bc);
  if (year === undefined) return text;
  if (!sign) return rfc3339NanoParts(`${pad4(year)}-${mo}-${d}`, `${h}:${mi}:${s}`, fraction);
  // The zone offset is whole seconds, so it moves the whole-second part only and the fraction stays as sent.
  const at = new Date(0);
  at.setUTCFullYear(year, Number(mo) - 1, Number(d));
  at.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const offset = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * 1000;
  const utc = new Date(at.getTime() - (sign === "+" ? offset : -offset));
  const utcYear = utc.getUTCFullYear();
  if (utcYear < 0 || utcYear > 9999) return text;
  const iso = utc.toISOString(); // 2024-01-01T08:00:00.000Z (years 0..9999 print with four digits)
  return rfc3339NanoParts(iso.slice(0, 10), iso.slice(11, 19), fraction);
}

/** "2024-01-01" → "2024-01-01T00:00:00Z" (1 BC: year 0000); other text as it is. */
export function dateText(text: string): string {
  const m = DATE.exec(text);
  const year = m ? isoYear(m[1], m[4]) : undefined;
  return m && year !== undefined ? rfc3339NanoParts(`${pad4(year)}-${m[2]}-${m[3]}`, "00:00:00") : text;
}

const serialize = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

/** postgres.js `types`: parsers by type oid (arrays of these types use them too). */
export const columnTypes = {
  int8: { to: 20, from: [20], serialize, parse: exactNumber },
  numeric: { to: 1700, from: [1700], serialize, parse: exactNumber },
  timestamp: { to: 1114, from: [1114, 1184], serialize, parse: timestampText },
  date: { to: 1082, from: [1082], serialize, parse: dateText },
};

/** Startup parameters the parsers above rely on. */
export const SESSION_PARAMETERS = { DateStyle: "ISO, MDY" };
