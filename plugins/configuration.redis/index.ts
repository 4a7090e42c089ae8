// configuration.redis: Dapr's Redis configuration store (components-contrib configuration/redis). Each item is a
// string key holding "value||version" as Dapr stores them (no "||": the version is empty; an empty value counts as
// missing, other key types are skipped). Subscribers hear of changes through keyspace notifications: SUBSCRIBE
// __keyspace@{db}__:{key} per named key, PSUBSCRIBE __keyspace@{db}__:* for a subscription to every key; each event
// re-reads the key, so a deleted or expired key arrives with an empty value and version, as from daprd.
// Keyspace notifications are off in a stock Redis: like Dapr, the first subscription turns on what it needs
// (CONFIG SET notify-keyspace-events, adding "Kg$xe" to what is set); where CONFIG is refused (managed Redis, ACLs)
// the operator must set it, and this store says so in the log.
import { Cluster, type Redis } from "ioredis";
import type {
  ConfigurationItem, ConfigurationItems, ConfigurationRequest, ConfigurationStore, ConfigurationUpdateHandler,
} from "../../src/components/contracts/configuration.js";
import { deletedItem } from "../../src/components/contracts/configuration.js";
import { ConfigurationSubscriptions } from "../../src/components/configuration/subscriptions.js";
import { definePlugin } from "../../src/components/plugin.js";
import { blockingConnection, closeRedis, connectRedis, redisConnectionMetadata, type RedisConnection } from "../../src/components/redis/client.js";
import { dictionary } from "../../src/dictionary.js";
import type { Logger } from "../../src/observability/logger.js";

const SCAN_BATCH = 1000;
/** What Dapr's Redis client sets: keyspace events (K) for generic (g), string ($), expired (x) and evicted (e). */
const NEEDED_EVENTS = "Kg$xe";
/** "A" stands for every event class, g$xe included. */
const COVERED_BY_A = "g$lshzxetd";

/** Dapr's "value||version": the part before the first "||" and the one after it. */
export function parseRedisValue(raw: string): { value: string; version: string } {
  const [value, version = ""] = raw.split("||");
  return { value, version };
}

/** notify-keyspace-events with what subscribers need added; undefined when it already has it. */
export function withKeyspaceEvents(current: string): string | undefined {
  const missing = [...NEEDED_EVENTS].filter((c) => !current.includes(c) && !(current.includes("A") && COVERED_BY_A.includes(c)));
  return missing.length ? current + missing.join("") : undefined;
}

class RedisConfigurationStore implements ConfigurationStore {
  private readonly subs: ConfigurationSubscriptions;
  private readonly prefix: string;
  private subscriber?: Promise<RedisConnection>;
  /** What the subscriber connection listens to now. */
  private patternOn = false;
  private readonly channelsOn = new Set<string>();
  /** Subscription changes and keyspace events, each handled after the one before. */
  private listening: Promise<unknown> = Promise.resolve();
  private events: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly client: RedisConnection, db: number, private readonly logger: Logger, private readonly what: string) {
    this.subs = new ConfigurationSubscriptions(logger, what);
    this.prefix = `__keyspace@${db}__:`;
  }

  async get(req: ConfigurationRequest): Promise<ConfigurationItems> {
    const keys = req.keys.length ? req.keys : await this.allKeys();
    const found = await Promise.all(keys.map((k) => this.readOne(k)));
    const items = dictionary<ConfigurationItem>();
    keys.forEach((k, i) => {
      if (found[i]) items[k] = found[i];
    });
    return items;
  }

  private async readOne(key: string): Promise<ConfigurationItem | undefined> {
    let raw: string | null;
    try {
      raw = await this.client.get(key);
    } catch (err) {
      if (/WRONGTYPE/.test((err as Error).message)) return undefined;
      throw err;
    }
    if (raw === null) return undefined;
    const { value, version } = parseRedisValue(raw);
    return value === "" ? undefined : { value, version, metadata: {} };
  }

  private async allKeys(): Promise<string[]> {
    const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes("master") : [this.client];
    const keys = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, batch] = await node.scan(cursor, "COUNT", SCAN_BATCH);
        for (const k of batch) keys.add(k);
        cursor = next;
      } while (cursor !== "0");
    }
    return [...keys];
  }

  async subscribe(req: ConfigurationRequest, handler: ConfigurationUpdateHandler): Promise<string> {
    if (this.closed) throw new Error(`${this.what}: the store is closed`);
    if (this.client instanceof Cluster) throw new Error(`${this.what}: subscribing is not supported with redisType cluster (keyspace notifications stay on the node that holds the key)`);
    const id = this.subs.add(req.keys, handler);
    try {
      await this.follow();
    } catch (err) {
      this.subs.remove(id);
      await this.follow().catch(() => {});
      throw new Error(`${this.what}: cannot listen for keyspace notifications: ${(err as Error).message}`);
    }
    return id;
  }

  async unsubscribe(id: string): Promise<void> {
    this.subs.remove(id);
    await this.follow().catch((err) => this.logger.warn(`${this.what}: unsubscribing from keyspace notifications failed`, { error: (err as Error).message }));
  }

  /** Makes the subscriber connection listen to exactly what the subscriptions want. */
  private follow(): Promise<void> {
    const step = this.listening.catch(() => {}).then(async () => {
      const sub = await this.connectSubscriber();
      const wantAll = this.subs.anyWantsAll();
      if (wantAll && !this.patternOn) {
        await sub.psubscribe(`${this.prefix}*`);
        this.patternOn = true;
      } else if (!wantAll && this.patternOn) {
        await sub.punsubscribe(`${this.prefix}*`);
        this.patternOn = false;
      }
      const wanted = new Set<string>();
      for (const key of this.subs.namedKeys()) wanted.add(this.prefix + key);
      const add = [...wanted].filter((c) => !this.channelsOn.has(c));
      const drop = [...this.channelsOn].filter((c) => !wanted.has(c));
      if (add.length) await sub.subscribe(...add);
      add.forEach((c) => this.channelsOn.add(c));
      if (drop.length) await sub.unsubscribe(...drop);
      drop.forEach((c) => this.channelsOn.delete(c));
    });
    this.listening = step;
    return step;
  }

  private connectSubscriber(): Promise<RedisConnection> {
    this.subscriber ??= (async () => {
      await this.enableKeyspaceEvents();
      const sub = await blockingConnection(this.client);
      sub.on("message", (channel: string) => {
        if (!this.patternOn) this.changed(channel);
      });
      sub.on("pmessage", (_pattern: string, channel: string) => this.changed(channel));
      return sub;
    })();
    const pending = this.subscriber;
    pending.catch(() => {
      if (this.subscriber === pending) this.subscriber = undefined;
    });
    return pending;
  }

  private async enableKeyspaceEvents(): Promise<void> {
    try {
      const [, current = ""] = (await this.client.config("GET", "notify-keyspace-events")) as string[];
      const next = withKeyspaceEvents(current);
      if (next !== undefined) await this.client.config("SET", "notify-keyspace-events", next);
    } catch (err) {
      this.logger.warn(`${this.what}: cannot turn on keyspace notifications; subscribers hear nothing unless the server has notify-keyspace-events ${NEEDED_EVENTS}`, {
        error: (err as Error).message,
      });
    }
  }

  /** A keyspace event on `channel`: re-read the key and tell its subscribers, in the order the events came. */
  private changed(channel: string) {
    if (!channel.startsWith(this.prefix)) return;
    const key = channel.slice(this.prefix.length);
    if (!this.subs.wants(key)) return;
    this.events = this.events.then(async () => {
      try {
        const items = dictionary<ConfigurationItem>();
        items[key] = (await this.readOne(key)) ?? deletedItem();
        this.subs.publish(items);
      } catch (err) {
        this.logger.warn(`${this.what}: cannot read changed key "${key}"; its subscribers miss this change`, { error: (err as Error).message });
      }
    });
  }

  async ping() {
    await this.client.ping();
  }

  async close() {
    this.closed = true;
    await this.subs.close();
    // A subscription change under way may still be opening the subscriber connection: close it once it is open.
    await this.listening.catch(() => {});
    const sub = await this.subscriber?.catch(() => undefined);
    if (sub) await closeRedis(sub);
    await closeRedis(this.client);
  }
}

export default definePlugin({
  type: "configuration.redis",
  versions: ["v1"],
  metadata: redisConnectionMetadata,
  async create(md, ctx) {
    const what = `configuration.redis "${ctx.name}"`;
    const client = await connectRedis(md, ctx.logger, what);
    return new RedisConfigurationStore(client, md.redisDB, ctx.logger, what);
  },
});
