// Actor state on the actor state store (the state component with actorStateStore: "true"), in daprd's key
// layout `<appId>||<actorType>||<actorId>||<key>`, written only through transactions, with a write-through cache
// per activation and a fence that keeps a stale activation on another node from overwriting state.
//
// The fence: one record per actor at `rapr-actor-fence||<appId>||<actorType>||<actorId>` (outside the app's
// `<appId>||` key space, so no state key of the app can collide with it). Activating an actor claims it: a
// conditional write of a fresh token (insert-only when absent, ETag-checked when present), then a read-back of
// the ETag. Every transaction of the activation carries an upsert of that record with the ETag it holds, in the
// same store transaction, and reads the new ETag back afterwards. Whoever claimed last wins: a stale activation's
// next transaction fails its ETag check as a whole, so none of its operations lands.
import { randomUUID } from "node:crypto";
import type { ComponentRegistry } from "../../components/registry.js";
import type { StateStore, TransactionOperation } from "../../components/contracts/state.js";
import { DaprError, EtagMismatchError, EtagInvalidError, messageOf } from "../../errors.js";
import { ttlInSeconds } from "../ttl.js";
import { actorErrors, actorKey } from "./errors.js";

export interface ActorStateOp {
  operation: "upsert" | "delete";
  key: string;
  /** The stored bytes (HTTP: the value's JSON text; gRPC: the Any's value). Upserts only. */
  value?: Uint8Array;
  etag?: string;
  /** ttlInSeconds (upserts), as daprd reads it. */
  metadata?: Record<string, string>;
}

export interface ActorStateValue {
  data: Uint8Array;
  /** ttlExpireTime (RFC 3339) when the item has a TTL. */
  metadata: Record<string, string>;
}

export interface ResolvedStore {
  name: string;
  store: StateStore;
}

/** The actor state store: the state component whose metadata sets actorStateStore to true; undefined when none. */
export function findActorStateStore(registry: ComponentRegistry): ResolvedStore | undefined {
  const c = registry.list("state").find((lc) => Object.entries(lc.metadata).some(([k, v]) => k.toLowerCase() === "actorstatestore" && v.trim().toLowerCase() === "true"));
  return c && { name: c.spec.name, store: c.instance as StateStore };
}

/** The activation's stale-write check failed: another node activated the actor after this one. */
export class ActorSupersededError extends Error {
  constructor(readonly actorKey: string) {
    super(`actor '${actorKey}' was activated on another node since this activation began; its state write was refused`);
    this.name = "ActorSupersededError";
  }
}

interface Held {
  token: string;
  etag: string | undefined;
  superseded: boolean;
  /** Values known for keys: bytes, or null for known absent. TTL'd items are never cached. */
  cache: Map<string, Uint8Array | null>;
  /** Transactions of one activation run one after another, so that each carries the fence ETag of the last. */
  chain: Promise<void>;
}

const FENCE_NAMESPACE = "rapr-actor-fence||";
const CLAIM_ATTEMPTS = 8;
const encoder = new TextEncoder();

export class ActorState {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly appId: string,
    /** Resolved on every call: the store can be added or replaced at run time, as daprd allows. */
    private readonly resolve: () => ResolvedStore | undefined,
    /** Called when a write finds the activation superseded, so that the runtime drains it. */
    private readonly onSuperseded: (actorType: string, actorId: string) => void = () => {},
  ) {}

  get configured(): boolean {
    return this.resolve() !== undefined;
  }

  /** Claims the actor for a new activation here. Without an actor state store there is nothing to fence. */
  async claim(actorType: string, actorId: string): Promise<void> {
    const resolved = this.resolve();
    if (!resolved) return;
    const key = actorKey(actorType, actorId);
    const { store } = checked(resolved);
    const fenceKey = this.fenceKey(actorType, actorId);
    const token = randomUUID();
    const value = encoder.encode(JSON.stringify({ token }));
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const current = await store.get(fenceKey, "strong");
      try {
        await store.set({ key: fenceKey, value, etag: current?.etag, concurrency: "first-write", contentType: "application/json" });
      } catch (err) {
        if (err instanceof EtagMismatchError) continue; // another node claimed meanwhile: read again
        throw err;
      }
      const held: Held = { token, etag: undefined, superseded: false, cache: new Map(), chain: Promise.resolve() };
      await this.readFence(store, fenceKey, held);
      this.held.set(key, held);
      return;
    }
    throw new Error(`could not claim actor '${key}': its fence record kept changing`);
  }

  /** The activation ended: its cache and fence ETag are dropped. */
  release(actorType: string, actorId: string): void {
    this.held.delete(actorKey(actorType, actorId));
  }

  /** GetActorState: from the active actor's cache when known, else from the store. Undefined when missing. */
  async get(actorType: string, actorId: string, key: string): Promise<ActorStateValue | undefined> {
    const { store } = this.store();
    const held = this.held.get(actorKey(actorType, actorId));
    const cached = held?.cache.get(key);
    if (cached !== undefined) return cached === null ? undefined : { data: cached, metadata: {} };
    let item;
    try {
      item = await store.get(this.stateKey(actorType, actorId, key));
    } catch (err) {
      throw actorErrors.stateGet(messageOf(err));
    }
    if (held && this.held.get(actorKey(actorType, actorId)) === held && item?.expiresAt === undefined) {
      held.cache.set(key, item ? item.value : null);
    }
    if (!item || item.value.length === 0) return undefined;
    const metadata: Record<string, string> = {};
    if (item.expiresAt !== undefined) metadata.ttlExpireTime = new Date(item.expiresAt).toISOString();
    return { data: item.value, metadata };
  }

  /**
   * ExecuteActorStateTransaction for an actor active here: every operation checked before any is sent, all applied
   * in one store transaction together with the fence check, or none.
   */
  transact(actorType: string, actorId: string, ops: readonly ActorStateOp[]): Promise<void> {
    const resolved = this.store();
    const key = actorKey(actorType, actorId);
    const held = this.held.get(key);
    if (!held) throw actorErrors.instanceMissing();
    const storeOps = ops.map((op, i) => this.toStoreOp(actorType, actorId, op, i));
    const run = held.chain.then(() => this.commit(resolved.store, actorType, actorId, held, ops, storeOps));
    held.chain = run.catch(() => {});
    return run;
  }

  private async commit(store: StateStore, actorType: string, actorId: string, held: Held, ops: readonly ActorStateOp[], storeOps: TransactionOperation[]): Promise<void> {
    if (held.superseded) throw this.superseded(actorType, actorId);
    const fenceKey = this.fenceKey(actorType, actorId);
    const fence: TransactionOperation = {
      op: "upsert",
      key: fenceKey,
      value: encoder.encode(JSON.stringify({ token: held.token })),
      etag: held.etag,
      concurrency: "first-write",
      contentType: "application/json",
    };
    try {
      await store.transact([...storeOps, fence]);
    } catch (err) {
      if (err instanceof EtagMismatchError && err.key === fenceKey) {
        held.superseded = true;
        throw this.superseded(actorType, actorId);
      }
      for (const op of ops) held.cache.delete(op.key); // unknown outcome for a failed store: read through next time
      if (err instanceof EtagMismatchError || err instanceof EtagInvalidError) {
        throw actorErrors.stateTransactionSave(`possible etag mismatch for key "${stripped(err.key, this.stateKey(actorType, actorId, ""))}"`);
      }
      throw actorErrors.stateTransactionSave(messageOf(err));
    }
    storeOps.forEach((op, i) => {
      const cacheable = op.op === "delete" || op.ttlInSeconds === undefined;
      if (cacheable) held.cache.set(ops[i]!.key, op.op === "upsert" ? op.value : null);
      else held.cache.delete(ops[i]!.key);
    });
    await this.readFence(store, fenceKey, held).catch(() => {
      held.etag = "\0unknown"; // the next write fails its check and claims nothing: reported as superseded
    });
    if (held.superseded) this.onSuperseded(actorType, actorId);
  }

  private async readFence(store: StateStore, fenceKey: string, held: Held): Promise<void> {
    const item = await store.get(fenceKey, "strong");
    const token = item ? (JSON.parse(new TextDecoder().decode(item.value)) as { token?: string }).token : undefined;
    held.etag = item?.etag;
    if (token !== held.token) held.superseded = true;
  }

  private superseded(actorType: string, actorId: string): DaprError {
    this.onSuperseded(actorType, actorId);
    return actorErrors.stateTransactionSave(new ActorSupersededError(actorKey(actorType, actorId)).message);
  }

  private toStoreOp(actorType: string, actorId: string, op: ActorStateOp, i: number): TransactionOperation {
    const where = `operations[${i}]`;
    if (op === null || typeof op !== "object") throw actorErrors.malformedRequest(`${where}: expected an object`);
    if (typeof op.key !== "string" || op.key === "") throw actorErrors.malformedRequest(`${where}: missing key`);
    const key = this.stateKey(actorType, actorId, op.key);
    const etag = op.etag || undefined;
    if (op.operation === "delete") return { op: "delete", key, etag, concurrency: etag ? "first-write" : "last-write" };
    if (op.operation !== "upsert") {
      throw actorErrors.malformedRequest(`${where}: operation type ${JSON.stringify(op.operation)} not supported (upsert or delete)`);
    }
    const ttl = ttlInSeconds(op.metadata, `actor state ${where}`, { value: -1, means: "never expire" });
    return {
      op: "upsert",
      key,
      value: op.value ?? new Uint8Array(),
      etag,
      concurrency: etag ? "first-write" : "last-write",
      ttlInSeconds: ttl !== undefined && ttl > 0 ? ttl : undefined,
    };
  }

  private store(): ResolvedStore {
    const resolved = this.resolve();
    if (!resolved) throw actorErrors.runtimeNotFound();
    return checked(resolved);
  }

  private stateKey(actorType: string, actorId: string, key: string): string {
    return `${this.appId}||${actorType}||${actorId}||${key}`;
  }

  private fenceKey(actorType: string, actorId: string): string {
    return `${FENCE_NAMESPACE}${this.appId}||${actorType}||${actorId}`;
  }
}

/** daprd needs ETags and transactions of the actor state store. */
function checked(resolved: ResolvedStore): ResolvedStore {
  const features = resolved.store.features();
  if (!features.includes("ETAG") || !features.includes("TRANSACTIONAL")) {
    throw actorErrors.runtimeNotFound();
  }
  return resolved;
}

function stripped(key: string, prefix: string): string {
  return key.startsWith(prefix) ? key.slice(prefix.length) : key;
}
