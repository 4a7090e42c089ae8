// configuration.postgresql: Dapr's PostgreSQL configuration store (components-contrib configuration/postgres).
// The table is the operator's, laid out as Dapr documents it (KEY, VALUE, VERSION, METADATA json; several rows of
// one key: the highest numeric VERSION wins); like Dapr this component requires it to exist and never writes to it.
// Subscribers hear of changes through LISTEN on the notify channel (component metadata `notifyChannel`, else the
// request's `pgNotifyChannel`), fed by the operator's trigger calling pg_notify with Dapr's payload
// {"table", "action", "data": row}. A DELETE reaches subscribers as the key with an empty value and version.
import type {
  ConfigurationItem, ConfigurationItems, ConfigurationRequest, ConfigurationStore, ConfigurationUpdateHandler,
} from "../../src/components/contracts/configuration.js";
import { deletedItem, SubscriptionNotFoundError } from "../../src/components/contracts/configuration.js";
import { ConfigurationSubscriptions } from "../../src/components/configuration/subscriptions.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { openPostgres, postgresConnectionMetadata, tableIdentifier, within, type Sql } from "../../src/components/postgres/pool.js";
import { dictionary } from "../../src/dictionary.js";
import type { Logger } from "../../src/observability/logger.js";

/** Dapr's rule for channel names (the trigger's pg_notify names the same channel). */
const CHANNEL = /^[a-z0-9./_]{1,64}$/;

interface Listening {
  subs: ConfigurationSubscriptions;
  /** Resolves once LISTEN ran; unlisten() ends it. */
  listen: Promise<{ unlisten(): Promise<void> }>;
}

interface Row {
  key: string;
  value: string | null;
  version: string | null;
  metadata: unknown;
}

/** Dapr compares versions as integers; one that is not counts as -1. */
const numericVersion = (v: string) => (/^-?\d+$/.test(v) ? Number(v) : -1);

function stringMap(v: unknown): Record<string, string> {
  const out = dictionary<string>();
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) out[k] = typeof x === "string" ? x : JSON.stringify(x);
  }
  return out;
}

const asItem = (r: { value?: unknown; version?: unknown; metadata?: unknown }): ConfigurationItem => ({
  value: r.value == null ? "" : String(r.value),
  version: r.version == null ? "" : String(r.version),
  metadata: stringMap(r.metadata),
});

class PostgresConfigurationStore implements ConfigurationStore {
  private readonly channels = new Map<string, Listening>();
  /** Subscription id → its channel. */
  private readonly channelOf = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly sql: Sql,
    private readonly table: string,
    private readonly channel: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  async get(req: ConfigurationRequest): Promise<ConfigurationItems> {
    const t = this.sql(this.table);
    const rows = await within(
      (req.keys.length
        ? this.sql<Row[]>`SELECT key, value, version, metadata FROM ${t} WHERE key = ANY(${req.keys}::text[])`
        : this.sql<Row[]>`SELECT key, value, version, metadata FROM ${t}`
      ).execute(),
      this.timeoutMs,
    );
    const items = dictionary<ConfigurationItem>();
    for (const r of rows) {
      const item = asItem(r);
      const seen = items[r.key];
      if (!seen || numericVersion(item.version) > numericVersion(seen.version)) items[r.key] = item;
    }
    return items;
  }

  async subscribe(req: ConfigurationRequest, handler: ConfigurationUpdateHandler): Promise<string> {
    if (this.closed) throw new Error(`${this.what}: the store is closed`);
    const channel = this.channel || requestChannel(req.metadata);
    if (!channel) throw new Error(`${this.what}: unable to subscribe to "${this.table}": notifyChannel must be set in the component's metadata or pgNotifyChannel in the request's`);
    if (!CHANNEL.test(channel)) throw new Error(`${this.what}: invalid notifyChannel "${channel}": lower-case letters, digits, ".", "/" and "_", at most 64`);
    let l = this.channels.get(channel);
    if (!l) {
      const subs = new ConfigurationSubscriptions(this.logger, this.what);
      const listen = this.sql.listen(channel, (payload) => this.onNotify(subs, channel, payload)).then((meta) => ({ unlisten: () => meta.unlisten() }));
      l = { subs, listen };
      this.channels.set(channel, l);
      listen.catch(() => {
        if (this.channels.get(channel) === l) this.channels.delete(channel);
      });
    }
    const id = l.subs.add(req.keys, handler);
    this.channelOf.set(id, channel);
    try {
      await within(l.listen, this.timeoutMs);
    } catch (err) {
      await this.unsubscribe(id).catch(() => {});
      throw err;
    }
    return id;
  }

  private onNotify(subs: ConfigurationSubscriptions, channel: string, payload: string) {
    let update: { key: string; item: ConfigurationItem } | undefined;
    try {
      update = parseNotification(JSON.parse(payload));
    } catch {
      // not JSON: reported below
    }
    if (!update) {
      this.logger.warn(`${this.what}: a notification on channel "${channel}" is not Dapr's {"action","data":{"key",…}}; ignored`, { payload: payload.slice(0, 200) });
      return;
    }
    const items = dictionary<ConfigurationItem>();
    items[update.key] = update.item;
    subs.publish(items);
  }

  async unsubscribe(id: string): Promise<void> {
    const channel = this.channelOf.get(id);
    this.channelOf.delete(id);
    const l = channel === undefined ? undefined : this.channels.get(channel);
    if (!l) throw new SubscriptionNotFoundError(id);
    l.subs.remove(id);
    if (l.subs.size > 0) return;
    this.channels.delete(channel!);
    await within(l.listen.then((x) => x.unlisten()), this.timeoutMs).catch(() => {});
  }

  async ping() {
    await within(this.sql`SELECT 1`.execute(), this.timeoutMs);
  }

  async close() {
    this.closed = true;
    const all = [...this.channels.values()];
    this.channels.clear();
    this.channelOf.clear();
    await Promise.all(all.map((l) => l.subs.close()));
    await this.sql.end({ timeout: 2 });
  }
}

function requestChannel(metadata: Record<string, string>): string {
  for (const [k, v] of Object.entries(metadata ?? {})) if (k.toLowerCase() === "pgnotifychannel") return v;
  return "";
}

/** Dapr's trigger payload: {"action": TG_OP, "data": row}; field names in any case, as Dapr reads them. */
function parseNotification(doc: unknown): { key: string; item: ConfigurationItem } | undefined {
  if (!doc || typeof doc !== "object") return undefined;
  const lower = (o: object) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
  const top = lower(doc);
  const row = top.data;
  if (!row || typeof row !== "object" || Array.isArray(row)) return undefined;
  const data = lower(row);
  if (typeof data.key !== "string") return undefined;
  const deleted = typeof top.action === "string" && top.action.toUpperCase() === "DELETE";
  return { key: data.key, item: deleted ? deletedItem() : asItem(data) };
}

export default definePlugin({
  type: "configuration.postgresql",
  versions: ["v1"],
  metadata: {
    ...postgresConnectionMetadata,
    table: field.string({ required: true }),
    notifyChannel: field.string({ default: "", aliases: ["pgNotifyChannel"] }),
  },
  async create(md, ctx) {
    const table = tableIdentifier("table", md.table);
    if (md.notifyChannel && !CHANNEL.test(md.notifyChannel)) {
      throw new Error(`metadata field "notifyChannel": lower-case letters, digits, ".", "/" and "_", at most 64, got "${md.notifyChannel}"`);
    }
    const sql = openPostgres(md, ctx.appId);
    try {
      const [{ found }] = await within(sql<{ found: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS found`.execute(), md.timeout);
      if (!found) throw new Error(`configuration.postgresql: the configuration table "${table}" does not exist (create it as Dapr documents: KEY, VALUE, VERSION, METADATA)`);
    } catch (err) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw err;
    }
    return new PostgresConfigurationStore(sql, table, md.notifyChannel, md.timeout, ctx.logger, `configuration.postgresql "${ctx.name}"`);
  },
});
