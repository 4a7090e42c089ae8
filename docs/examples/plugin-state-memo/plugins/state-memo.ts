// A minimal third-party state store for rapr's --plugins-path: items kept in memory, optimistic concurrency with
// etags, all-or-nothing transactions. It declares ETAG and TRANSACTIONAL only: no TTL, no query API.
// The only imports from rapr are types (erased at load time), so the module runs inside the compiled binary as is.
import type { DeleteRequest, SetRequest, StateFeature, StateItem, StateStore, TransactionOperation } from "rapr/contracts/state";
import type { ComponentPlugin } from "rapr/plugin";

/** rapr recognises a failed etag check by the error's name (and reports the key it carries). */
class EtagMismatchError extends Error {
  override name = "EtagMismatchError";
  constructor(readonly key: string) {
    super(`etag mismatch for key "${key}"`);
  }
}

const metadata = {
  /** Refuse values larger than this many bytes (0 = no limit). */
  maxValueBytes: { type: "int", default: 0 },
} as const;

class MemoStore implements StateStore {
  private items = new Map<string, StateItem>();
  private version = 0;

  constructor(private readonly maxValueBytes: number) {}

  features(): StateFeature[] {
    return ["ETAG", "TRANSACTIONAL"];
  }

  async get(key: string) {
    return this.items.get(key);
  }

  async bulkGet(keys: string[]) {
    return keys.map((k) => this.items.get(k));
  }

  async set(req: SetRequest) {
    this.apply(this.items, { op: "upsert", ...req });
  }

  async delete(req: DeleteRequest) {
    this.apply(this.items, { op: "delete", ...req });
  }

  /** Applies every operation to a copy and swaps it in only when all of them passed their etag checks. */
  async transact(ops: TransactionOperation[]) {
    const next = new Map(this.items);
    for (const op of ops) this.apply(next, op);
    this.items = next;
  }

  async close() {
    this.items.clear();
  }

  private apply(items: Map<string, StateItem>, op: TransactionOperation) {
    const current = items.get(op.key);
    if (op.etag !== undefined ? current?.etag !== op.etag : op.concurrency === "first-write" && op.op === "upsert" && current) {
      throw new EtagMismatchError(op.key);
    }
    if (op.op === "delete") {
      items.delete(op.key);
      return;
    }
    if (this.maxValueBytes > 0 && op.value.byteLength > this.maxValueBytes) throw new Error(`value of ${op.key} exceeds maxValueBytes`);
    items.set(op.key, { key: op.key, value: op.value, etag: String(++this.version), contentType: op.contentType });
  }
}

const plugin: ComponentPlugin<typeof metadata, MemoStore> = {
  type: "state.memo",
  metadata,
  async create(meta) {
    return new MemoStore(meta.maxValueBytes);
  },
};

export default plugin;
