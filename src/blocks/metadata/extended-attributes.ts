// The extended metadata: attributes the sidecar and the app attach to GET /v1.0/metadata. daprd bounds none of
// them; here what the app sets (PUT /v1.0/metadata/{key}, gRPC SetMetadata) is bounded so it cannot grow the
// sidecar's memory and every metadata answer without limit (the bounds are listed in the README).
import { errors } from "../../errors.js";

export const EXTENDED_METADATA_LIMITS = {
  keyBytes: 256,
  valueBytes: 64 * 1024,
  /** Keys in all, the sidecar's own included. */
  keys: 128,
  /** Keys and values of every attribute together, in UTF-8 bytes. */
  totalBytes: 1024 * 1024,
} as const;

const L = EXTENDED_METADATA_LIMITS;

export class ExtendedAttributes {
  private readonly values = new Map<string, string>();
  private totalBytes = 0;

  /** An attribute of the sidecar's own: not held to the bounds, but counted in the total. */
  setOwn(key: string, value: string): void {
    this.totalBytes = this.totalAfter(key, value);
    this.values.set(key, value);
  }

  /** An attribute the app sets; an empty key is ignored, as daprd does. */
  set(key: string, value: string): void {
    if (!key) return;
    const keyBytes = Buffer.byteLength(key);
    const valueBytes = Buffer.byteLength(value);
    if (keyBytes > L.keyBytes) throw errors.malformedRequest(`metadata key must be at most ${L.keyBytes} bytes, got ${keyBytes}`);
    if (valueBytes > L.valueBytes) {
      throw errors.malformedRequest(`metadata value for key "${key}" must be at most ${L.valueBytes} bytes, got ${valueBytes}`);
    }
    if (!this.values.has(key) && this.values.size >= L.keys) {
      throw errors.malformedRequest(`metadata holds the most keys allowed (${L.keys}): "${key}" is not added; set an existing key instead`);
    }
    const total = this.totalAfter(key, value);
    if (total > L.totalBytes) {
      throw errors.malformedRequest(`metadata key "${key}" would bring all metadata to ${total} bytes, over the ${L.totalBytes} allowed`);
    }
    this.values.set(key, value);
    this.totalBytes = total;
  }

  toObject(): Record<string, string> {
    return Object.fromEntries(this.values);
  }

  /** The bytes of every key and value once `key` holds `value`. */
  private totalAfter(key: string, value: string): number {
    const old = this.values.get(key);
    const oldBytes = old === undefined ? 0 : Buffer.byteLength(key) + Buffer.byteLength(old);
    return this.totalBytes - oldBytes + Buffer.byteLength(key) + Buffer.byteLength(value);
  }
}
