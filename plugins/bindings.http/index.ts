// bindings.http: an output binding that sends each request to one HTTP endpoint, as Dapr's HTTP binding does.
// The operation is the method ("create" is POST); metadata `path` extends the url (and may not climb out of the
// url's own path), capitalised metadata keys are headers (`Host` excepted); the answer's status and headers come
// back as metadata. A body fetch decompressed comes back without Content-Encoding and Content-Length, as Go's
// transport does; a request that sets its own Accept-Encoding gets the body as the server sent it. close() stops
// the requests in flight and refuses new ones.
import { readFileSync } from "node:fs";
import {
  BindingRequestError, unsupportedOperation,
  type BindingOperation, type BindingRequest, type BindingResponse, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { field, isTruthy, MetadataError, type MetadataOf } from "../../src/components/metadata-schema.js";
import { definePlugin, type Component } from "../../src/components/plugin.js";
import { parseByteSize } from "./byte-size.js";
import { headersFromMetadata, responseMetadata, wasDecompressed } from "./headers.js";

const metadata = {
  url: field.string({ required: true }),
  /** Longer answers are cut to this size; zero or less reads all. */
  maxResponseBodySize: field.string({ default: "100Mi" }),
  errorIfNot2XX: field.bool({ default: true }),
  responseTimeout: field.duration({ min: 1 }),
  securityToken: field.string({ sensitive: true }),
  securityTokenHeader: field.string(),
  /** PEM text, or the path of a PEM file. */
  MTLSRootCA: field.string(),
  MTLSClientCert: field.string(),
  MTLSClientKey: field.string({ sensitive: true }),
};
type Md = MetadataOf<typeof metadata>;

const OPERATIONS = ["create", "get", "head", "post", "put", "patch", "delete", "options", "trace"] as const;
const WITH_BODY = new Set(["POST", "PUT", "PATCH"]);
const JSON_UTF8 = "application/json; charset=utf-8";

/** The url without user:password, for messages. */
const shown = (url: string) => url.replace(/\/\/[^/@]*@/, "//");

/** The configured url with `path` appended to its path (before its query; a query in `path` is added to it). */
function joinUrl(base: URL, pathWithFragment: string): string {
  const path = pathWithFragment.split("#")[0]!; // a fragment is never sent (Go drops it too)
  const at = path.indexOf("?");
  const [pathPart, query] = at < 0 ? [path, undefined] : [path.slice(0, at), path.slice(at + 1)];
  const u = new URL(base.href);
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/${pathPart.replace(/^\/+/, "")}`;
  if (query) u.search = u.search ? `${u.search}&${query}` : `?${query}`;
  return u.href;
}

/** A segment such as "..%2fadmin" is one segment to fetch, but a server that decodes before routing sees two. */
function hidesSeparator(segment: string): boolean {
  try {
    return /[/\\]/.test(decodeURIComponent(segment));
  } catch {
    return true; // not valid percent-encoding: no telling what a server makes of it
  }
}

/**
 * The url a request goes to. fetch normalises "..", "%2e%2e" and "\\" in a path, so the check is made on the url
 * as fetch will read it: same origin, and a path inside the configured url's path; a segment hiding a separator in
 * percent-encoding is refused as well.
 */
function targetUrl(baseText: string, base: URL, path: string | undefined, where: string): string {
  if (!path) return baseText;
  const basePath = base.pathname.replace(/\/+$/, "");
  let target: URL | undefined;
  try {
    if (!path.split("?")[0]!.split("/").some(hidesSeparator)) target = new URL(joinUrl(base, path));
  } catch {
    // reported below
  }
  if (!target || target.origin !== base.origin || (target.pathname !== basePath && !target.pathname.startsWith(`${basePath}/`))) {
    throw new BindingRequestError(`${where}: metadata "path" must stay under the url's path "${basePath || "/"}", got ${JSON.stringify(path)}`);
  }
  return target.href;
}

async function readLimited(res: Response, limit: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  if (limit <= 0) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.byteLength, limit - size);
    chunks.push(take === value.byteLength ? value : value.subarray(0, take));
    size += take;
  }
  await reader.cancel().catch(() => {});
  return Buffer.concat(chunks);
}

class HttpBinding implements Component, OutputBinding {
  /** Aborted by close(): stops every request in flight. */
  private readonly closing = new AbortController();
  private readonly base: URL;

  constructor(
    private readonly name: string,
    private readonly md: Md,
    private readonly maxBody: number,
    private readonly tls: { ca?: string; cert?: string; key?: string } | undefined,
  ) {
    this.base = new URL(md.url);
  }

  operations(): BindingOperation[] {
    return [...OPERATIONS];
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    const where = `bindings.http "${this.name}"`;
    req.signal?.throwIfAborted();
    if (this.closing.signal.aborted) throw new BindingRequestError(`${where} is closed`);
    const method = req.operation === "create" ? "POST" : req.operation.toUpperCase();
    if (!(OPERATIONS as readonly string[]).includes(req.operation)) throw unsupportedOperation(where, req.operation, OPERATIONS);
    const url = targetUrl(this.md.url, this.base, req.metadata.path, where);
    const errorIfNot2XX = req.metadata.errorIfNot2XX ? isTruthy(req.metadata.errorIfNot2XX) : this.md.errorIfNot2XX;
    const hasBody = WITH_BODY.has(method);

    const headers = new Headers({ Accept: JSON_UTF8 });
    if (hasBody) headers.set("Content-Type", JSON_UTF8);
    if (this.md.securityToken && this.md.securityTokenHeader) headers.set(this.md.securityTokenHeader, this.md.securityToken);
    headersFromMetadata(req.metadata, headers, where);
    // Go decompresses only what it asked to be compressed: a caller who sets Accept-Encoding gets the raw body.
    const decompress = !headers.has("accept-encoding");

    const timeout = this.md.responseTimeout ? AbortSignal.timeout(this.md.responseTimeout) : undefined;
    const signals = [req.signal, timeout, this.closing.signal].filter((s) => s !== undefined);
    let res: Response;
    let data: Uint8Array;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: hasBody ? req.data : undefined,
        signal: AbortSignal.any(signals),
        tls: this.tls,
        decompress,
      });
      data = await readLimited(res, this.maxBody);
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason;
      const why = timeout?.aborted
        ? `no answer within responseTimeout (${this.md.responseTimeout}ms)`
        : this.closing.signal.aborted ? "the binding was closed" : (err as Error).message;
      throw new Error(`${where}: ${method} ${shown(url)} failed: ${why}`, { cause: err });
    }
    if (errorIfNot2XX && (res.status < 200 || res.status > 299)) {
      throw new Error(`${where}: ${method} ${shown(url)} answered ${res.status} ${res.statusText}`.trimEnd());
    }
    const metadata = responseMetadata(res, wasDecompressed(res, method, decompress));
    return { data, metadata, contentType: res.headers.get("content-type") ?? undefined };
  }

  async close() {
    this.closing.abort();
  }
}

function pemOrFile(fieldName: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (value.includes("-----BEGIN ")) return value;
  try {
    return readFileSync(value, "utf8");
  } catch (err) {
    throw new MetadataError(fieldName, `metadata field "${fieldName}": neither PEM text nor a readable file, got "${value}" (${(err as Error).message})`);
  }
}

export default definePlugin({
  type: "bindings.http",
  metadata,
  async create(md, ctx) {
    if (!URL.canParse(md.url) || !/^https?:$/.test(new URL(md.url).protocol)) {
      throw new MetadataError("url", `metadata field "url": must be an absolute http(s) URL, got "${shown(md.url)}"`);
    }
    const maxBody = parseByteSize(md.maxResponseBodySize);
    if (maxBody === undefined) {
      throw new MetadataError("maxResponseBodySize", `metadata field "maxResponseBodySize": must be a byte size such as "1048576", "100Mi" or "10M", got "${md.maxResponseBodySize}"`);
    }
    if (!!md.MTLSClientCert !== !!md.MTLSClientKey) {
      throw new MetadataError("MTLSClientCert", 'metadata fields "MTLSClientCert" and "MTLSClientKey" go together: set both or neither');
    }
    const ca = pemOrFile("MTLSRootCA", md.MTLSRootCA);
    const cert = pemOrFile("MTLSClientCert", md.MTLSClientCert);
    const key = pemOrFile("MTLSClientKey", md.MTLSClientKey);
    const tls = ca || cert ? { ca, cert, key } : undefined;
    return new HttpBinding(ctx.name, md, maxBody, tls);
  },
});
