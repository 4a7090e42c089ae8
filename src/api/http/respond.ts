// Response helpers shared by every HTTP route: Dapr's JSON errors, JSON bodies, body parsing.
import { DaprError, errors } from "../../errors.js";

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

/** Reads a request body as JSON; bad UTF-8 or bad JSON becomes ERR_MALFORMED_REQUEST naming what failed. */
export async function readJson(request: Request, what: string, maxBytes = Infinity): Promise<unknown> {
  const bytes = await readBody(request, maxBytes);
  if (bytes.length === 0) throw errors.malformedRequest(`${what}: request body is empty, expected JSON`);
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw errors.malformedRequest(`${what}: request body is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw errors.malformedRequest(`${what}: failed to parse request body as JSON: ${(err as Error).message}`);
  }
}

/** Dapr passes per-request metadata as query parameters named "metadata.<key>". */
export function queryMetadata(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (k.startsWith("metadata.")) out[k.slice(9)] = v;
  return out;
}

/** A stored value inside a JSON response, as Dapr does it: JSON stays JSON, anything else becomes a string. */
export function valueAsJson(value: Uint8Array): unknown {
  const text = lenient.decode(value);
  try {
    return JSON.parse(text);
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
