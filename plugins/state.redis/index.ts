// state.redis: Dapr's Redis state store, on-Redis layout included (scripts.ts), so daprd and rapr read each other's
// data. ETags, first-write, TTL and all-or-nothing transactions run as one Lua script each. The query API scans the
// keys under the query's prefix and filters in memory (no RediSearch module needed).
import { Cluster, type Redis, type Result } from "ioredis";
import type {
  DeleteRequest, Query, SetRequest, StateFeature, StateItem, StateStore, TransactionOperation,
} from "../../src/components/contracts/state.js";
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { runQueryInMemory } from "../../src/components/state/query.js";
import { closeRedis, connectRedis, redisConnectionMetadata, type RedisConnection } from "../../src/components/redis/client.js";
import { EtagMismatchError } from "../../src/errors.js";
import { READ, WRITE } from "./scripts.js";

declare module "ioredis" {
  interface RedisCommander<Context> {
    raprStateWrite(numKeys: number, ...keysAndArgs: (string | Buffer)[]): Result<number, Context>;
    raprStateReadBuffer(key: string): Result<[Buffer, Buffer, Buffer, number] | null, Context>;
  }
}

const SCAN_BATCH = 1000;
/** Below 2^48, so daprd's HINCRBY and a JavaScript number both stay exact for as long as a key lives. */
const VERSION_SPACE = 2 ** 48;

/** A new key's first version: random, so a key deleted and written again never repeats an ETag it had. */
const firstVersion = () => String(1 + Math.floor(Math.random() * VERSION_SPACE));

const asBuffer = (v: Uint8Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** SCAN MATCH pattern for keys starting with `prefix`. */
const globPrefix = (prefix: string) => prefix.replace(/[\\*?[\]]/g, "\\$&") + "*";

class RedisStateStore implements StateStore {
  constructor(private readonly client: RedisConnection, private readonly defaultTtl: number | undefined) {
    client.defineCommand("raprStateWrite", { lua: WRITE });
    client.defineCommand("raprStateRead", { lua: READ, numberOfKeys: 1 });
  }

  features(): StateFeature[] {
    return ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
  }

  async get(key: string): Promise<StateItem | undefined> {
    const r = await this.client.raprStateReadBuffer(key);
    if (!r) return undefined;
    const [data, version, contentType, pttl] = r;
    return {
      key,
      value: data,
      etag: version.toString(),
      contentType: contentType.length ? contentType.toString() : undefined,
      expiresAt: pttl > 0 ? Date.now() + pttl : undefined,
    };
  }

  bulkGet(keys: string[]) {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  set(req: SetRequest) {
    return this.transact([{ op: "upsert", ...req }]);
  }

  delete(req: DeleteRequest) {
    return this.transact([{ op: "delete", ...req }]);
  }

  async transact(ops: TransactionOperation[]) {
    if (ops.length === 0) return;
    const args: (string | Buffer)[] = ops.map((op) => op.key);
    for (const op of ops) {
      if (op.op === "delete") {
        args.push("del", op.etag ?? "", "", "0", "0", "", "");
      } else {
        const ttl = op.ttlInSeconds ?? this.defaultTtl ?? 0;
        args.push("set", op.etag ?? "", asBuffer(op.value), op.concurrency === "first-write" ? "1" : "0", String(ttl), firstVersion(), op.contentType ?? "");
      }
    }
    const failed = await this.client.raprStateWrite(ops.length, ...args);
    if (failed) throw new EtagMismatchError(ops[failed - 1].key);
  }

  async query(q: Query) {
    const keys = await this.keysUnder(q.keyPrefix);
    const items = (await this.bulkGet(keys)).filter((i): i is StateItem => i !== undefined);
    return runQueryInMemory(items, q);
  }

  /** Every key starting with `prefix`, on every master of a cluster. */
  private async keysUnder(prefix: string): Promise<string[]> {
    const nodes: Redis[] = this.client instanceof Cluster ? this.client.nodes("master") : [this.client];
    const keys = new Set<string>();
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, batch] = await node.scan(cursor, "MATCH", globPrefix(prefix), "COUNT", SCAN_BATCH);
        for (const k of batch) keys.add(k);
        cursor = next;
      } while (cursor !== "0");
    }
    return [...keys];
  }

  async ping() {
    await this.client.ping();
  }

  close() {
    return closeRedis(this.client);
  }
}

export default definePlugin({
  type: "state.redis",
  versions: ["v1"],
  metadata: {
    ...redisConnectionMetadata,
    /** Dapr's default TTL for items written without one. */
    ttlInSeconds: field.int({ min: 1 }),
    /** Accepted as daprd accepts them; the runtime reads actorStateStore, RediSearch indexes are not used here. */
    actorStateStore: field.bool({ default: false }),
    queryIndexes: field.string({ default: "" }),
  },
  async create(meta, ctx) {
    const client = await connectRedis(meta, ctx.logger, `state.redis "${ctx.name}"`);
    return new RedisStateStore(client, meta.ttlInSeconds);
  },
});
