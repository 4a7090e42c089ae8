// state.in-memory: a process-local store with every state feature; nothing survives a restart.
import type {
  DeleteRequest, SetRequest, StateFeature, StateItem, StateStore, TransactionOperation, Query,
} from "../../src/components/contracts/state.js";
import { definePlugin } from "../../src/components/plugin.js";
import { field } from "../../src/components/metadata-schema.js";
import { newEtag } from "../../src/components/state/etag.js";
import { runQueryInMemory } from "../../src/components/state/query.js";
import { EtagMismatchError } from "../../src/errors.js";

class InMemoryStateStore implements StateStore {
  private readonly items = new Map<string, StateItem>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(cleanupIntervalMs: number, private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), cleanupIntervalMs);
    this.sweeper.unref?.();
  }

  features(): StateFeature[] {
    return ["ETAG", "TRANSACTIONAL", "TTL", "QUERY_API"];
  }

  private live(key: string): StateItem | undefined {
    const item = this.items.get(key);
    if (item?.expiresAt !== undefined && item.expiresAt <= this.now()) {
      this.items.delete(key);
      return undefined;
    }
    return item;
  }

  async get(key: string) {
    return this.live(key);
  }

  async bulkGet(keys: string[]) {
    return keys.map((k) => this.live(k));
  }

  private check(key: string, etag: string | undefined, concurrency: string, isDelete: boolean) {
    const current = this.live(key);
    if (etag) {
      if (!current || current.etag !== etag) throw new EtagMismatchError(key);
    } else if (!isDelete && concurrency === "first-write" && current) {
      throw new EtagMismatchError(key);
    }
  }

  private apply(op: TransactionOperation) {
    if (op.op === "delete") {
      this.items.delete(op.key);
      return;
    }
    this.items.set(op.key, {
      key: op.key,
      value: op.value.slice(),
      etag: newEtag(),
      contentType: op.contentType,
      expiresAt: op.ttlInSeconds ? this.now() + op.ttlInSeconds * 1000 : undefined,
    });
  }

  async set(req: SetRequest) {
    this.check(req.key, req.etag, req.concurrency, false);
    this.apply({ op: "upsert", ...req });
  }

  async delete(req: DeleteRequest) {
    this.check(req.key, req.etag, req.concurrency, true);
    this.apply({ op: "delete", ...req });
  }

  async transact(ops: TransactionOperation[]) {
    // Checks see the state as earlier operations in the same transaction leave it; on failure, undo them.
    const undo = new Map<string, StateItem | undefined>();
    try {
      for (const op of ops) {
        if (!undo.has(op.key)) undo.set(op.key, this.items.get(op.key));
        this.check(op.key, op.etag, op.concurrency, op.op === "delete");
        this.apply(op);
      }
    } catch (err) {
      for (const [k, v] of undo) {
        if (v) this.items.set(k, v);
        else this.items.delete(k);
      }
      throw err;
    }
  }

  async query(q: Query) {
    const items = [...this.items.keys()].filter((k) => k.startsWith(q.keyPrefix)).map((k) => this.live(k)).filter((i): i is StateItem => !!i);
    return runQueryInMemory(items, q);
  }

  private sweep() {
    for (const key of this.items.keys()) this.live(key);
  }

  async ping() {}

  async close() {
    clearInterval(this.sweeper);
    this.items.clear();
  }
}

export default definePlugin({
  type: "state.in-memory",
  metadata: {
    cleanupInterval: field.duration({ default: 60_000, min: 100, aliases: ["cleanupIntervalInSeconds"] }),
  },
  async create(meta) {
    return new InMemoryStateStore(meta.cleanupInterval);
  },
});
