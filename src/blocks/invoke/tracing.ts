// W3C trace context for invocation: keep the caller's trace id, give each hop a new parent (span) id,
// make one when the caller sent none; tracestate passes through untouched.

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Random hex for ids: span ids need uniqueness, not secrecy, so a 32-bit PRNG draw per 8 hex digits will do. */
function hex(bytes: number): string {
  let s = "";
  for (let i = 0; i < bytes; i += 4) s += ((Math.random() * 0x100000000) >>> 0).toString(16).padStart(8, "0");
  return s.slice(0, bytes * 2);
}

/** The traceparent to send onward: same trace id and flags, a fresh span id; a new one if absent or invalid. */
export function nextTraceparent(incoming: string | undefined): string {
  const m = incoming ? TRACEPARENT.exec(incoming.trim().toLowerCase()) : null;
  if (m && m[2] !== "0".repeat(32) && m[3] !== "0".repeat(16)) return `00-${m[2]}-${hex(8)}-${m[4]}`;
  return `00-${hex(16)}-${hex(8)}-01`;
}

export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase())?.[2] : undefined;
}
