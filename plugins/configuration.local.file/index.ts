// configuration.local.file: rapr's own configuration store (Dapr has no built-in one), the embedded default. Items
// live in a YAML or JSON file the operator edits: `key: value`, or `key: {value, version, metadata}`. A plain value's
// version is a digest of the value, so it changes when the value does and every sidecar reading the file agrees.
// The file is read again on every get, on a change seen by fs.watch, and every pollInterval; subscribers get what
// changed between two readings (a removed key with an empty value and version). A missing file holds no items; a
// file that cannot be parsed keeps the last good items and is reported in the log.
import { hash } from "node:crypto";
import { readFileSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";
import type {
  ConfigurationItem, ConfigurationItems, ConfigurationRequest, ConfigurationStore, ConfigurationUpdateHandler,
} from "../../src/components/contracts/configuration.js";
import { deletedItem } from "../../src/components/contracts/configuration.js";
import { ConfigurationSubscriptions } from "../../src/components/configuration/subscriptions.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { dictionary } from "../../src/dictionary.js";
import type { Logger } from "../../src/observability/logger.js";

const asText = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));

/** The file's items; throws with the reason when the text is not a mapping of keys to values or items. */
export function parseConfigurationFile(text: string): Map<string, ConfigurationItem> {
  const doc: unknown = parse(text);
  const items = new Map<string, ConfigurationItem>();
  if (doc === null || doc === undefined) return items;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new Error("the file must hold a mapping of keys to values");
  for (const [key, v] of Object.entries(doc)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, "value")) {
      const o = v as { value: unknown; version?: unknown; metadata?: unknown };
      const metadata = dictionary<string>();
      if (o.metadata !== undefined && o.metadata !== null) {
        if (typeof o.metadata !== "object" || Array.isArray(o.metadata)) throw new Error(`key "${key}": metadata must be a mapping`);
        for (const [mk, mv] of Object.entries(o.metadata)) metadata[mk] = asText(mv);
      }
      const value = asText(o.value);
      items.set(key, { value, version: o.version === undefined ? digest(value) : asText(o.version), metadata });
    } else {
      const value = asText(v);
      items.set(key, { value, version: digest(value), metadata: {} });
    }
  }
  return items;
}

const digest = (value: string) => hash("sha256", value).slice(0, 16);

const sameItem = (a: ConfigurationItem, b: ConfigurationItem) =>
  a.value === b.value && a.version === b.version && JSON.stringify(a.metadata) === JSON.stringify(b.metadata);

class FileConfigurationStore implements ConfigurationStore {
  private items = new Map<string, ConfigurationItem>();
  private readonly subs: ConfigurationSubscriptions;
  private readonly poller: ReturnType<typeof setInterval>;
  private watcher?: FSWatcher;
  private lastProblem = "";

  constructor(private readonly file: string, pollMs: number, private readonly logger: Logger, private readonly what: string) {
    this.subs = new ConfigurationSubscriptions(logger, what);
    this.items = this.read();
    this.poller = setInterval(() => this.reload(), pollMs);
    this.poller.unref?.();
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (!name || name === basename(file)) this.reload();
      });
      this.watcher.on("error", () => this.watcher?.close());
    } catch {
      // no directory yet (or no watching here): polling alone sees the file
    }
  }

  /** The file's items now; throws when it cannot be read or parsed (a missing file holds none). */
  private read(): Map<string, ConfigurationItem> {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw new Error(`cannot read ${this.file}: ${(err as Error).message}`);
    }
    try {
      return parseConfigurationFile(text);
    } catch (err) {
      throw new Error(`cannot parse ${this.file}: ${(err as Error).message}`);
    }
  }

  /** Reads the file again and tells subscribers what changed; a bad file keeps the last good items. */
  private reload(): void {
    let next: Map<string, ConfigurationItem>;
    try {
      next = this.read();
      this.lastProblem = "";
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== this.lastProblem) this.logger.warn(`${this.what}: keeping the last good items`, { error: problem });
      this.lastProblem = problem;
      return;
    }
    const changed = dictionary<ConfigurationItem>();
    for (const [k, item] of next) {
      const before = this.items.get(k);
      if (!before || !sameItem(before, item)) changed[k] = item;
    }
    for (const k of this.items.keys()) if (!next.has(k)) changed[k] = deletedItem();
    this.items = next;
    if (Object.keys(changed).length) this.subs.publish(changed);
  }

  async get(req: ConfigurationRequest): Promise<ConfigurationItems> {
    this.reload();
    const out = dictionary<ConfigurationItem>();
    for (const k of req.keys.length ? req.keys : this.items.keys()) {
      const item = this.items.get(k);
      if (item) out[k] = { ...item, metadata: { ...item.metadata } };
    }
    return out;
  }

  async subscribe(req: ConfigurationRequest, handler: ConfigurationUpdateHandler): Promise<string> {
    this.reload();
    return this.subs.add(req.keys, handler);
  }

  async unsubscribe(id: string): Promise<void> {
    this.subs.remove(id);
  }

  async close() {
    clearInterval(this.poller);
    this.watcher?.close();
    await this.subs.close();
  }
}

export default definePlugin({
  type: "configuration.local.file",
  versions: ["v1"],
  metadata: {
    /** YAML or JSON; a relative path lives in --data-dir. */
    configFile: field.string({ default: "configuration.yaml", aliases: ["path"] }),
    pollInterval: field.duration({ default: 1000, min: 50 }),
  },
  async create(md, ctx) {
    const file = isAbsolute(md.configFile) ? md.configFile : join(ctx.dataDir, md.configFile);
    const what = `configuration.local.file "${ctx.name}"`;
    try {
      return new FileConfigurationStore(file, md.pollInterval, ctx.logger, what);
    } catch (err) {
      throw new Error(`metadata field "configFile": ${(err as Error).message}`);
    }
  },
});
