// The state building block: validates requests, applies the key prefix, and maps store failures to Dapr errors.
import { Slot } from "../../runtime/block.js";
import type { ComponentRegistry } from "../../components/registry.js";
import type {
  Concurrency, Consistency, StateItem, StateStore, TransactionOperation,
} from "../../components/contracts/state.js";
import { parseQuery, QueryError } from "../../components/state/query.js";
import { DaprError, EtagInvalidError, EtagMismatchError, errors, messageOf } from "../../errors.js";
import { KeyPrefixer } from "./key-prefix.js";
import { ttlInSeconds } from "../ttl.js";
import { checkWellFormed } from "../../unicode.js";
import type { Resiliency } from "../../resiliency/index.js";

export interface SaveInput {
  key: string;
  value: Uint8Array;
  etag?: string;
  concurrency?: string;
  consistency?: string;
  metadata?: Record<string, string>;
}

export interface DeleteInput {
  key: string;
  etag?: string;
  concurrency?: string;
  consistency?: string;
  metadata?: Record<string, string>;
}

export type TransactionInput = ({ operation: "upsert" } & SaveInput) | ({ operation: "delete" } & DeleteInput);

export interface GetResult {
  value: Uint8Array;
  etag: string;
  metadata: Record<string, string>;
  contentType?: string;
}

export interface BulkGetEntry {
  key: string;
  found: boolean;
  value?: Uint8Array;
  etag?: string;
  metadata: Record<string, string>;
  error?: string;
}

export interface QueryOutput {
  results: { key: string; value: Uint8Array; etag: string }[];
  token?: string;
}

type Op = "save" | "delete" | "transaction";

export class StateBlock {
  private readonly prefixers = new Map<string, KeyPrefixer>();

  private readonly guarded = new WeakMap<StateStore, StateStore>();

  /** Every call into a store with a `resiliency` policy (targets.components.<name>) runs under it. */
  constructor(private readonly registry: ComponentRegistry, private readonly appId: string, private readonly resiliency?: Resiliency) {}

  private store(name: string): { store: StateStore; prefix: KeyPrefixer } {
    const raw = this.registry.get<StateStore>("state", name);
    const store = raw && this.resiliency?.policyFor({ component: name }) ? this.guard(name, raw) : raw;
    if (!store) {
      if (this.registry.list("state").length === 0) throw errors.stateStoreNotConfigured("state store is not configured");
      throw errors.stateStoreNotFound(`state store ${name} is not found`);
    }
    let prefix = this.prefixers.get(name);
    if (!prefix) {
      const spec = this.registry.list("state").find((c) => c.spec.name === name)!.spec;
      prefix = KeyPrefixer.fromComponent(spec, this.appId);
      this.prefixers.set(name, prefix);
    }
    return { store, prefix };
  }

  /** The store with each data call wrapped in the component's resiliency policy; etag conflicts are final. */
  private guard(name: string, store: StateStore): StateStore {
    let g = this.guarded.get(store);
    if (g) return g;
    const r = this.resiliency!;
    const permanent = (e: unknown) => e instanceof EtagMismatchError || e instanceof EtagInvalidError;
    const plain = new Set<PropertyKey>(["features", "close", "ping"]);
    g = new Proxy(store, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        if (plain.has(prop)) return v.bind(target);
        return (...args: unknown[]) => r.run({ component: name }, () => v.apply(target, args), { permanent });
      },
    });
    this.guarded.set(store, g);
    return g;
  }

  async get(storeName: string, key: string, consistency?: string): Promise<GetResult | undefined> {
    const { store, prefix } = this.store(storeName);
    const full = prefix.apply(checkKey(key, storeName));
    const c = checkConsistency(consistency, `state store ${storeName}`);
    let item: StateItem | undefined;
    try {
      item = await store.get(full, c);
    } catch (err) {
      throw errors.stateGet(`fail to get ${key} from state store ${storeName}: ${messageOf(err)}`);
    }
    return item && { value: item.value, etag: item.etag, metadata: itemMetadata(item), contentType: item.contentType };
  }

  async bulkGet(storeName: string, keys: string[]): Promise<BulkGetEntry[]> {
    const { store, prefix } = this.store(storeName);
    keys.forEach((k, i) => checkKey(k, storeName, `keys[${i}]`));
    let items: (StateItem | undefined)[];
    try {
      items = await store.bulkGet(keys.map((k) => prefix.apply(k)));
    } catch (err) {
      throw errors.stateBulkGet(`failed getting bulk state from state store ${storeName}: ${messageOf(err)}`);
    }
    return keys.map((key, i) => {
      const item = items[i];
      return item
        ? { key, found: true, value: item.value, etag: item.etag, metadata: itemMetadata(item) }
        : { key, found: false, metadata: {} };
    });
  }

  async save(storeName: string, inputs: SaveInput[]): Promise<void> {
    const { store, prefix } = this.store(storeName);
    const ops = inputs.map((s, i) => toUpsert(s, prefix, storeName, inputs.length > 1 ? `[${i}]` : ""));
    const single = ops[0];
    if (ops.length === 0) return;
    await this.run("save", storeName, prefix, () =>
      ops.length === 1 && single.op === "upsert" ? store.set(single) : this.transactOrSequential(store, ops),
    );
  }

  async delete(storeName: string, input: DeleteInput): Promise<void> {
    const { store, prefix } = this.store(storeName);
    const op = toDelete(input, prefix, storeName, "");
    await this.run("delete", storeName, prefix, () => store.delete(op));
  }

  async bulkDelete(storeName: string, inputs: DeleteInput[]): Promise<void> {
    const { store, prefix } = this.store(storeName);
    const ops = inputs.map((d, i) => toDelete(d, prefix, storeName, `[${i}]`));
    if (ops.length === 0) return;
    await this.run("delete", storeName, prefix, () => this.transactOrSequential(store, ops));
  }

  async transaction(storeName: string, inputs: TransactionInput[]): Promise<void> {
    const { store, prefix } = this.store(storeName);
    if (!store.features().includes("TRANSACTIONAL")) {
      throw errors.transactionNotSupported(`state store ${storeName} doesn't support transactions`);
    }
    const ops = inputs.map((o, i): TransactionOperation => {
      const where = `operations[${i}]`;
      if (o.operation === "upsert") return toUpsert(o, prefix, storeName, where);
      if (o.operation === "delete") return toDelete(o, prefix, storeName, where);
      throw errors.malformedRequest(`state store ${storeName}: ${where}: operation must be "upsert" or "delete", got ${JSON.stringify((o as any).operation)}`);
    });
    if (ops.length === 0) return;
    await this.run("transaction", storeName, prefix, () => store.transact(ops));
  }

  async query(storeName: string, body: unknown): Promise<QueryOutput> {
    const { store, prefix } = this.store(storeName);
    if (!store.query || !store.features().includes("QUERY_API")) {
      throw errors.stateQueryNotSupported(`state store ${storeName} doesn't support the query API`);
    }
    let q;
    try {
      q = parseQuery(body, prefix.queryPrefix());
    } catch (err) {
      if (err instanceof QueryError) throw errors.malformedRequest(`state store ${storeName}: ${err.message}`);
      throw err;
    }
    try {
      const r = await store.query(q);
      return { results: r.results.map((i) => ({ key: prefix.strip(i.key), value: i.value, etag: i.etag })), token: r.token };
    } catch (err) {
      if (err instanceof QueryError) throw errors.malformedRequest(`state store ${storeName}: ${err.message}`);
      throw errors.stateQuery(`failed query in state store ${storeName}: ${messageOf(err)}`);
    }
  }

  private async transactOrSequential(store: StateStore, ops: TransactionOperation[]) {
    if (store.features().includes("TRANSACTIONAL")) return store.transact(ops);
    for (const op of ops) await (op.op === "upsert" ? store.set(op) : store.delete(op));
  }

  private async run(op: Op, storeName: string, prefix: KeyPrefixer, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw mapStoreError(op, storeName, prefix, err);
    }
  }
}

const verb = { save: "saving state in", delete: "deleting state from", transaction: "executing transaction in" } as const;

function mapStoreError(op: Op, storeName: string, prefix: KeyPrefixer, err: unknown): DaprError {
  if (err instanceof DaprError) return err;
  if (err instanceof EtagMismatchError) {
    const key = prefix.strip(err.key);
    return errors.etagMismatch(op, `failed ${verb[op]} state store ${storeName}: possible etag mismatch for key "${key}"`);
  }
  if (err instanceof EtagInvalidError) {
    return errors.etagInvalid(op, `failed ${verb[op]} state store ${storeName}: invalid etag value: ${err.message}`);
  }
  const make = op === "save" ? errors.stateSave : op === "delete" ? errors.stateDelete : errors.stateTransaction;
  return make(`failed ${verb[op]} state store ${storeName}: ${messageOf(err)}`);
}

function itemMetadata(item: StateItem): Record<string, string> {
  const expires = item.expiresAt === undefined ? undefined : new Date(item.expiresAt);
  return expires && Number.isFinite(expires.getTime()) ? { ttlExpireTime: expires.toISOString() } : {};
}

function checkKey(key: unknown, storeName: string, where = "key"): string {
  if (typeof key !== "string" || key.length === 0) {
    throw errors.malformedRequest(`state store ${storeName}: ${where} must be a non-empty string`);
  }
  checkWellFormed(key, `state store ${storeName}: ${where}`);
  if (key.includes("||")) throw errors.malformedRequest(`state store ${storeName}: ${where} "${key}" can't contain '||'`);
  return key;
}

function checkConcurrency(v: string | undefined, where: string): Concurrency {
  if (v === undefined || v === "" || v === "last-write") return "last-write";
  if (v === "first-write") return "first-write";
  throw errors.malformedRequest(`${where}: options.concurrency must be "first-write" or "last-write", got ${JSON.stringify(v)}`);
}

function checkConsistency(v: string | undefined, where = "request"): Consistency {
  if (v === undefined || v === "" || v === "eventual") return "eventual";
  if (v === "strong") return "strong";
  throw errors.malformedRequest(`${where}: consistency must be "strong" or "eventual", got ${JSON.stringify(v)}`);
}

/** A state item's TTL: -1 and 0 mean it never expires. */
function parseTtl(meta: Record<string, string> | undefined, where: string): number | undefined {
  const n = ttlInSeconds(meta, where, { value: -1, means: "never expire" });
  return n !== undefined && n > 0 ? n : undefined;
}

/** Printable ASCII, as an HTTP header value must be: anything else would make every later GET of the item fail. */
export const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

function checkContentType(v: string | undefined, where: string): string | undefined {
  if (v === undefined || v === "") return undefined;
  if (!CONTENT_TYPE.test(v)) {
    throw errors.malformedRequest(`${where}: metadata.contentType must be a media type such as "application/json" (printable ASCII, at most 255 characters), got ${JSON.stringify(v)}`);
  }
  return v;
}

function toUpsert(s: SaveInput, prefix: KeyPrefixer, storeName: string, at: string): TransactionOperation {
  const where = `state store ${storeName}${at ? `: ${at}` : ""}`;
  const key = checkKey(s.key, storeName, at ? `${at}.key` : "key");
  checkConsistency(s.consistency, where);
  return {
    op: "upsert",
    key: prefix.apply(key),
    value: s.value,
    etag: s.etag || undefined,
    concurrency: checkConcurrency(s.concurrency, where),
    ttlInSeconds: parseTtl(s.metadata, where),
    contentType: checkContentType(s.metadata?.contentType, where),
  };
}

function toDelete(d: DeleteInput, prefix: KeyPrefixer, storeName: string, at: string): TransactionOperation {
  const where = `state store ${storeName}${at ? `: ${at}` : ""}`;
  const key = checkKey(d.key, storeName, at ? `${at}.key` : "key");
  checkConsistency(d.consistency, where);
  return { op: "delete", key: prefix.apply(key), etag: d.etag || undefined, concurrency: checkConcurrency(d.concurrency, where) };
}

/** The running state block, for the API fronts. */
export const stateSlot = new Slot<StateBlock>("state");
