// How request metadata becomes request headers and response headers become response metadata, as in Dapr.
import { STATUS_CODES } from "node:http";
import { BindingRequestError } from "../../src/components/contracts/bindings.js";

/** Trace context travels as lower-case metadata keys (the block puts them there) and goes out as headers. */
const TRACE_KEYS = ["traceparent", "tracestate", "baggage"];

/**
 * Dapr's rule: a metadata key that starts with a capital letter is a request header; the rest are options.
 * `Host` is ignored, as Go's net/http ignores a Host header (the url decides where the request goes).
 */
export function headersFromMetadata(metadata: Record<string, string>, headers: Headers, where: string): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (!/^[A-Z]/.test(key) && !TRACE_KEYS.includes(key)) continue;
    if (key.toLowerCase() === "host") continue;
    try {
      headers.set(key, value);
    } catch {
      throw new BindingRequestError(`${where}: metadata "${key}" cannot be sent as an HTTP header (name or value not allowed)`);
    }
  }
}

/** "content-type" → "Content-Type", the form Go's net/http gives header names (and so Dapr's metadata keys). */
export function canonicalHeaderName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** The codings fetch decodes by itself (Bun: gzip, deflate, br, zstd). */
const DECODED_CODINGS = new Set(["gzip", "x-gzip", "deflate", "br", "zstd"]);

/**
 * Whether fetch handed over a decompressed body. Go's transport then drops Content-Encoding and Content-Length
 * from the answer (they describe bytes nobody sees), and so does this binding. A HEAD answer or one without a body
 * had nothing to decompress and keeps them, as in Go.
 */
export function wasDecompressed(res: Response, method: string, decompress: boolean): boolean {
  if (!decompress || method === "HEAD" || res.status === 204 || res.status === 304) return false;
  const coding = res.headers.get("content-encoding")?.trim().toLowerCase();
  return coding !== undefined && DECODED_CODINGS.has(coding);
}

export function responseMetadata(res: Response, decompressed = false): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (decompressed && (name === "content-encoding" || name === "content-length")) return;
    const key = canonicalHeaderName(name);
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  });
  out.statusCode = String(res.status);
  out.status = `${res.status} ${res.statusText || STATUS_CODES[res.status] || ""}`.trim();
  return out;
}
