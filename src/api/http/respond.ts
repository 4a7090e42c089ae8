// Response helpers shared by every HTTP route: Dapr's JSON errors, JSON bodies, body parsing.
import { DaprError, errors } from "../../errors.js";
import { dictionary } from "../../dictionary.js";
import { parseJson } from "../../json.js";
import { checkWellFormed } from "../../unicode.js";

const JSON_HEADERS = { "content-type": "application/json" };
const decoder = new TextDecoder("utf-8", { fatal: true });

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function noContent(headers?: Record<string, string>): Response {
  return new Response(null, { status: 204, headers });
}

export function errorResponse(err: unknown): Response {
  if (err instanceof DaprError) return json(err, err.httpStatus);
  const message = err instanceof Error ? err.message : String(err);
  return json({ errorCode: "ERR_INTERNAL", message }, 500);
}

/**
 * Reads a request body, at most maxBytes of it. A body with a Content-Length over the limit never gets here (the
 * server answers 413 first); a chunked one is counted as it streams in and refused with ERR_BODY_TOO_LARGE.
 */
export async function readBody(request: Request, maxBytes = Infinity): Promise<Uint8Array> {
  if (request.headers.has("content-length") || maxBytes === Infinity) return new Uint8Array(await request.arrayBuffer());
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    total += r.value.byteLength;
    if (total > maxBytes) {
      reader.cancel().catch(() => {});
      throw errors.bodyTooLarge(`request body exceeds --dapr-http-max-request-size (${maxBytes} bytes)`);
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads a request body as JSON; bad UTF-8, bad JSON or JSON nested too deeply becomes ERR_MALFORMED_REQUEST (or the
 * error `fail` makes) naming what failed.
 */
export async function readJson(request: Request, what: string, maxBytes = Infinity, fail = errors.malformedRequest): Promise<unknown> {
  const bytes = await readBody(request, maxBytes);
  if (bytes.length === 0) throw fail(`${what}: request body is empty, expected JSON`);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw fail(`${what}: request body is not valid UTF-8`);
  }
  try {
    return parseJson(text);
  } catch (err) {
    throw fail(`${what}: failed to parse request body as JSON: ${(err as Error).message}`);
  }
}

/**
 * The "metadata" field of a JSON request body: an object of strings, as daprd's map[string]string takes it (no
 * value is turned into text), with well-formed names and values since they may name files or rows. Errors start with
 * `where` and are made by `fail`.
 */
export function stringMetadata(raw: unknown, where: string, fail = errors.malformedRequest): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object" || Array.isArray(raw)) throw fail(`${where} "metadata" must be an object of strings, got ${jsonType(raw)}`);
  const out = dictionary<string>();
  for (const [k, v] of Object.entries(raw)) {
    checkWellFormed(k, `${where} metadata name`, fail);
    const field = `${where} "metadata.${k}"`;
    if (typeof v !== "string") throw fail(`${field} must be a string, got ${jsonType(v)}`);
    out[k] = checkWellFormed(v, field, fail);
  }
  return out;
}

/** "null", "an array", "an object", "a number", …: a JSON value's kind, for error messages. */
export function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** Dapr passes per-request metadata as query parameters named "metadata.<key>". */
export function queryMetadata(url: URL): Record<string, string> {
  const out = dictionary<string>();
  for (const [k, v] of url.searchParams) if (k.startsWith("metadata.")) out[k.slice(9)] = v;
  return out;
}

/** A stored value inside a JSON response, as Dapr does it: JSON stays JSON, anything else (JSON nested too deeply too) becomes a string. */
export function valueAsJson(value: Uint8Array): unknown {
  const text = lenient.decode(value);
  try {
    return parseJson(text);
  } catch {
    return text;
  }
}

const lenient = new TextDecoder();

export const encoder = new TextEncoder();

/** The raw query of an absolute request URL, without "?" or fragment, as URL.search would give it. */
export function queryOf(url: string): string {
  const q = url.indexOf("?");
  const hash = url.indexOf("#");
  if (q < 0 || (hash >= 0 && hash < q)) return "";
  const raw = hash < 0 ? url.slice(q + 1) : url.slice(q + 1, hash);
  // Characters the URL parser would percent-encode: let it, so the app sees the same query either way.
  return /[^\x21-\x7e]|["'<>`]/.test(raw) ? new URL(url).search.slice(1) : raw;
}

/** A percent-encoded URL segment, decoded; undefined when it is not valid percent-encoded UTF-8. */
export function decodedSegment(segment: string): string | undefined {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
