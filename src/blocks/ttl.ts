// metadata.ttlInSeconds, as state and pub/sub requests carry it: one reading of it for every building block.
import { errors } from "../errors.js";

/** The largest TTL accepted (about 68 years): an expiry past what a date can hold would make an item unreadable. */
export const MAX_TTL_SECONDS = 2 ** 31 - 1;

/**
 * metadata.ttlInSeconds as a number, undefined when absent or empty. Anything but a base-10 integer from `min` to
 * MAX_TTL_SECONDS is refused with ERR_MALFORMED_REQUEST (daprd reads it with strconv.ParseInt).
 */
export function ttlInSeconds(metadata: Record<string, string> | undefined, where: string, min: { value: number; means?: string }): number | undefined {
  const raw = metadata?.ttlInSeconds;
  if (raw === undefined || raw === "") return undefined;
  const n = /^[+-]?[0-9]{1,12}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min.value || n > MAX_TTL_SECONDS) {
    const from = min.means ? `${min.value} (${min.means})` : String(min.value);
    throw errors.malformedRequest(`${where}: metadata.ttlInSeconds must be an integer from ${from} to ${MAX_TTL_SECONDS}, got ${JSON.stringify(raw)}`);
  }
  return n;
}
