// The state store contract. Every state plugin implements it; the suite in src/conformance/state.ts proves it.
import type { Component } from "../plugin.js";

export type StateFeature = "ETAG" | "TRANSACTIONAL" | "QUERY_API" | "TTL";

export type Concurrency = "first-write" | "last-write";
export type Consistency = "strong" | "eventual";

export interface StateItem {
  key: string;
  value: Uint8Array;
  etag: string;
  /** Unix ms when the item expires, if it has a TTL. */
  expiresAt?: number;
  contentType?: string;
}

export interface SetRequest {
  key: string;
  value: Uint8Array;
  /** When given (first-write, or always for stores that check it), the write only lands if it matches. */
  etag?: string;
  concurrency: Concurrency;
  /** Seconds; undefined = keep forever; <= 0 is rejected by the block. */
  ttlInSeconds?: number;
  contentType?: string;
}

export interface DeleteRequest {
  key: string;
  etag?: string;
  concurrency: Concurrency;
}

export type TransactionOperation = ({ op: "upsert" } & SetRequest) | ({ op: "delete" } & DeleteRequest);

export type QueryFilter =
  | { EQ: Record<string, unknown> }
  | { NEQ: Record<string, unknown> }
  | { GT: Record<string, unknown> }
  | { GTE: Record<string, unknown> }
  | { LT: Record<string, unknown> }
  | { LTE: Record<string, unknown> }
  | { IN: Record<string, unknown[]> }
  | { AND: QueryFilter[] }
  | { OR: QueryFilter[] };

export interface Query {
  filter?: QueryFilter;
  sort?: { key: string; order: "ASC" | "DESC" }[];
  page?: { limit?: number; token?: string };
  /** Only keys starting with this prefix are searched (the block sets it to "{appId}||"). */
  keyPrefix: string;
}

export interface QueryResult {
  results: StateItem[];
  token?: string;
}

export interface StateStore extends Component {
  features(): StateFeature[];
  get(key: string, consistency?: Consistency): Promise<StateItem | undefined>;
  bulkGet(keys: string[]): Promise<(StateItem | undefined)[]>;
  set(req: SetRequest): Promise<void>;
  delete(req: DeleteRequest): Promise<void>;
  /** All-or-nothing. Throws EtagMismatchError (and applies nothing) when any operation's etag does not match. */
  transact(ops: TransactionOperation[]): Promise<void>;
  query?(q: Query): Promise<QueryResult>;
}
