// bindings.localstorage: an output binding over the files under one directory, as Dapr's local storage binding.
// create (fileName, or a new UUID) → {"fileName": …}; get → the file's bytes; list (fileName: a subdirectory,
// default the root) → JSON array of the entries below it, relative to rootPath; delete → removes a file, a
// symbolic link, or an empty directory (as Go's os.Remove).
//
// create's data: a JSON string (Dapr's HTTP API passes text that way) is unquoted first, then, as in Dapr, data
// that is valid base64 (standard alphabet, padded) is decoded and the decoded bytes are written. Metadata
// `decodeBase64` (component, or per request, which wins) changes that: "false" writes the data as it is, "true"
// requires base64 and refuses anything else.
//
// Names never leave rootPath: absolute names, ".." and symbolic links leading out are refused (see paths.ts).
// list does not follow symbolic links: a link is listed as an entry, as Go's filepath.Walk does, and the walk
// stops with an error after `maxListEntries` entries (a Rapr setting; default 100000).
// Failures a retry cannot mend (a missing file, a directory where a file was expected, …) are
// BindingRequestErrors naming the binding and the file. close() stops requests in flight and refuses new ones.
import { constants } from "node:fs";
import { lstat, readdir, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import {
  BindingRequestError, unsupportedOperation,
  type BindingOperation, type BindingRequest, type BindingResponse, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { field, isTruthy, MetadataError } from "../../src/components/metadata-schema.js";
import { definePlugin, type Component } from "../../src/components/plugin.js";
import { mkdirInside, openInside, refusal, resolveFile, resolveRoot } from "./paths.js";

const OPERATIONS = ["create", "get", "list", "delete"] as const;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
/** Go's base64.StdEncoding: standard alphabet, padding required. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** "auto": decode what is base64 (Dapr); "strict": require base64; "off": write as is. */
type DecodeMode = "auto" | "strict" | "off";

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** Error codes that say the request itself cannot succeed: answered as BindingRequestError, never retried. */
const PERMANENT = new Set(["ENOENT", "EISDIR", "ENOTDIR", "ENOTEMPTY", "EEXIST", "ELOOP", "ENAMETOOLONG", "EACCES", "EPERM", "EROFS", "EINVAL", "ENXIO"]);

/**
 * Dapr's HTTP API hands a binding the JSON encoding of the request's `data`, so text arrives as a quoted JSON
 * string; Dapr's local storage binding writes the text inside the quotes, and so does this one.
 */
function unquoted(data: Uint8Array): Uint8Array {
  if (data.length < 2 || data[0] !== 0x22 || data[data.length - 1] !== 0x22) return data;
  try {
    const text = JSON.parse(Buffer.from(data).toString("utf8"));
    return typeof text === "string" ? encoder.encode(text) : data;
  } catch {
    return data;
  }
}

/** The bytes `data` decodes to as Go's base64.StdEncoding.DecodeString reads it (which skips CR and LF), or undefined. */
function decodeStdBase64(data: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(data).toString("latin1").replace(/[\r\n]/g, "");
  return BASE64.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined;
}

class LocalStorageBinding implements Component, OutputBinding {
  /** Aborted by close(): requests in flight stop at their next step. */
  private readonly closing = new AbortController();

  constructor(
    private readonly root: string,
    private readonly name: string,
    private readonly decodeMode: DecodeMode,
    private readonly maxListEntries: number,
  ) {}

  private get where() {
    return `bindings.localstorage "${this.name}"`;
  }

  operations(): BindingOperation[] {
    return [...OPERATIONS];
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    req.signal?.throwIfAborted();
    if (this.closing.signal.aborted) throw new BindingRequestError(`${this.where} is closed`);
    const fileName = req.metadata.fileName ?? "";
    switch (req.operation) {
      case "create":
        return this.create(fileName || crypto.randomUUID(), req);
      case "get":
        return this.get(this.required(fileName, "get"), req);
      case "list":
        return this.list(fileName, req);
      case "delete":
        return this.delete(this.required(fileName, "delete"), req);
      default:
        throw unsupportedOperation(this.where, req.operation, OPERATIONS);
    }
  }

  /** Stops a request whose caller left or whose binding was closed. */
  private checkpoint(req: BindingRequest) {
    req.signal?.throwIfAborted();
    if (this.closing.signal.aborted) throw new Error(`${this.where}: closed while operation "${req.operation}" was in flight`);
  }

  private required(fileName: string, operation: string) {
    if (!fileName) throw new BindingRequestError(`${this.where}: metadata "fileName" is required for operation "${operation}"`);
    return fileName;
  }

  /** A file system error as the binding reports it: the binding, the action and the file named, never retried when it cannot mend. */
  private failure(err: unknown, action: string, name: string): Error {
    if (err instanceof BindingRequestError || (err as Error)?.name === "AbortError") return err as Error;
    const code = codeOf(err);
    const file = JSON.stringify(name);
    switch (code) {
      case "ENOENT":
        return new BindingRequestError(`${this.where}: file ${file} not found`);
      case "EISDIR":
        return new BindingRequestError(`${this.where}: cannot ${action} ${file}: it is a directory`);
      case "ENOTDIR":
        return new BindingRequestError(`${this.where}: cannot ${action} ${file}: a part of its path is a file, not a directory`);
      case "ENOTEMPTY":
        return new BindingRequestError(`${this.where}: cannot ${action} ${file}: the directory is not empty`);
    }
    const message = `${this.where}: cannot ${action} file ${file}: ${(err as Error)?.message ?? String(err)}`;
    return code && PERMANENT.has(code) ? new BindingRequestError(message) : new Error(message, { cause: err });
  }

  private async resolve(fileName: string, action: string, options?: { followLast?: boolean }) {
    try {
      return await resolveFile(this.root, fileName, this.where, options);
    } catch (err) {
      throw this.failure(err, action, fileName);
    }
  }

  private content(req: BindingRequest): Uint8Array {
    const data = unquoted(req.data);
    const asked = req.metadata.decodeBase64;
    const mode: DecodeMode = asked ? (isTruthy(asked) ? "strict" : "off") : this.decodeMode;
    if (mode === "off") return data;
    const decoded = decodeStdBase64(data);
    if (decoded) return decoded;
    if (mode === "strict") throw new BindingRequestError(`${this.where}: data is not base64 while decodeBase64 is true`);
    return data;
  }

  private async create(fileName: string, req: BindingRequest): Promise<BindingResponse> {
    const { abs, rel } = await this.resolve(fileName, "write");
    if (rel === ".") throw refusal(this.where, fileName, "must name a file, not rootPath itself");
    const data = this.content(req);
    try {
      await mkdirInside(this.root, dirname(abs), (why) => refusal(this.where, fileName, why));
    } catch (err) {
      if (err instanceof BindingRequestError) throw err;
      const code = codeOf(err);
      if (code === "EEXIST" || code === "ENOTDIR") {
        throw new BindingRequestError(`${this.where}: cannot write file ${JSON.stringify(rel)}: a part of its path is a file, not a directory`);
      }
      throw this.failure(err, "write", rel);
    }
    this.checkpoint(req);
    try {
      // No O_TRUNC: nothing is changed before openInside has checked where the opened file is.
      const fh = await openInside(this.root, abs, constants.O_WRONLY | constants.O_CREAT, (why) => refusal(this.where, fileName, why));
      try {
        if (!(await fh.stat()).isFile()) throw new BindingRequestError(`${this.where}: cannot write file ${JSON.stringify(rel)}: it is not a regular file`);
        await fh.truncate(0);
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.failure(err, "write", rel);
    }
    return { data: encoder.encode(JSON.stringify({ fileName: rel })), metadata: {}, contentType: "application/json" };
  }

  private async get(fileName: string, req: BindingRequest): Promise<BindingResponse> {
    const { abs } = await this.resolve(fileName, "read");
    try {
      const fh = await openInside(this.root, abs, constants.O_RDONLY, (why) => refusal(this.where, fileName, why));
      try {
        const st = await fh.stat();
        if (st.isDirectory()) throw new BindingRequestError(`${this.where}: cannot read ${JSON.stringify(fileName)}: it is a directory`);
        if (!st.isFile()) throw new BindingRequestError(`${this.where}: cannot read ${JSON.stringify(fileName)}: it is not a regular file`);
        this.checkpoint(req);
        return { data: new Uint8Array(await fh.readFile()), metadata: {} };
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw this.failure(err, "read", fileName);
    }
  }

  private async list(dirName: string, req: BindingRequest): Promise<BindingResponse> {
    const shown = JSON.stringify(dirName || ".");
    const { abs } = await this.resolve(dirName || ".", "list");
    let isDir: boolean;
    try {
      isDir = (await stat(abs)).isDirectory();
    } catch (err) {
      if (codeOf(err) === "ENOENT") throw new BindingRequestError(`${this.where}: directory ${shown} not found`);
      throw this.failure(err, "list", dirName || ".");
    }
    if (!isDir) throw new BindingRequestError(`${this.where}: ${shown} is a file, not a directory to list`);

    // A walk of our own: Bun's recursive readdir follows symbolic links (out of the root, or round a loop).
    const files: string[] = [];
    const pending = [abs];
    let seen = 0;
    while (pending.length) {
      this.checkpoint(req);
      const dir = pending.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (dir !== abs && codeOf(err) === "ENOENT") continue; // removed while we walked
        throw new Error(`${this.where}: cannot list ${JSON.stringify(relative(this.root, dir) || ".")}: ${(err as Error).message}`, { cause: err });
      }
      for (const e of entries) {
        if (++seen > this.maxListEntries) {
          throw new BindingRequestError(`${this.where}: list of ${shown} stopped after ${this.maxListEntries} entries (maxListEntries); list a subdirectory`);
        }
        const path = join(dir, e.name);
        if (e.isDirectory()) pending.push(path);
        else files.push(relative(this.root, path));
      }
    }
    files.sort();
    return { data: encoder.encode(JSON.stringify(files)), metadata: {}, contentType: "application/json" };
  }

  private async delete(fileName: string, req: BindingRequest): Promise<BindingResponse> {
    const { abs, rel } = await this.resolve(fileName, "delete", { followLast: false });
    if (rel === "." || abs === this.root) throw refusal(this.where, fileName, "must name a file, not rootPath itself");
    this.checkpoint(req);
    try {
      if ((await lstat(abs)).isDirectory()) await rmdir(abs);
      else await unlink(abs);
    } catch (err) {
      throw this.failure(err, "delete", fileName);
    }
    return { data: EMPTY, metadata: {} };
  }

  async close() {
    this.closing.abort();
  }
}

export default definePlugin({
  type: "bindings.localstorage",
  metadata: {
    /** Relative paths are relative to the sidecar's data directory. */
    rootPath: field.string({ required: true }),
    /** Unset: decode `create` data that is base64 (Dapr); "false": never; "true": always, refusing other data. */
    decodeBase64: field.bool(),
    /** A Rapr setting: the most entries one list walks before it fails. */
    maxListEntries: field.int({ default: 100_000, min: 1 }),
  },
  async create(md, ctx) {
    let root: string;
    try {
      root = await resolveRoot(md.rootPath, ctx.dataDir);
    } catch (err) {
      throw new MetadataError("rootPath", `metadata field "rootPath": ${(err as Error).message}, got "${md.rootPath}"`);
    }
    const mode: DecodeMode = md.decodeBase64 === undefined ? "auto" : md.decodeBase64 ? "strict" : "off";
    return new LocalStorageBinding(root, ctx.name, mode, md.maxListEntries);
  },
});
