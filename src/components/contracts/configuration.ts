// The configuration store contract (Dapr's configuration.Store). Every configuration plugin implements it;
// test/conformance/configuration.test.ts proves it. Stores are read-only through Dapr's API: values change in the
// backend (a row, a Redis key, a file) and subscribers hear of it.
import type { Component } from "../plugin.js";

export interface ConfigurationItem {
  value: string;
  /** The backend's version string ("" when it keeps none). */
  version: string;
  metadata: Record<string, string>;
}

/** Items by key: a prototype-less object (src/dictionary.ts), keys the store holds only. */
export type ConfigurationItems = Record<string, ConfigurationItem>;

export interface ConfigurationRequest {
  /** Empty: every key of the store. */
  keys: string[];
  /** Dapr's per-request metadata (`metadata.*` query parameters, the gRPC metadata map). */
  metadata: Record<string, string>;
}

/** What a subscriber gets, and what daprd posts to the app at /configuration/{store}/{key} (one post per key). */
export interface ConfigurationUpdate {
  /** The subscription's id. */
  id: string;
  /** The changed keys. A deleted key carries DELETED_ITEM (empty value and version), as Dapr's Redis store sends. */
  items: ConfigurationItems;
}

/** A subscription's updates come one at a time, in the order the backend reported them: the next waits for the
 * handler's promise. A handler that throws is logged; the update is not delivered again. */
export type ConfigurationUpdateHandler = (update: ConfigurationUpdate) => Promise<void>;

export interface ConfigurationStore extends Component {
  /** The requested keys that exist (all keys when none are named); unknown keys are left out. */
  get(req: ConfigurationRequest): Promise<ConfigurationItems>;
  /** Starts delivering changes of `req.keys` (every key when empty) to `handler`; resolves with the subscription's
   * id once the store listens, so a change made after it resolves is heard. */
  subscribe(req: ConfigurationRequest, handler: ConfigurationUpdateHandler): Promise<string>;
  /** Stops a subscription: no update reaches its handler after this resolves (one being handled runs to its end).
   * Throws SubscriptionNotFoundError for an id this store does not know (or already unsubscribed). */
  unsubscribe(id: string): Promise<void>;
}

export class SubscriptionNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`subscription with id ${id} does not exist`);
    this.name = "SubscriptionNotFoundError";
  }
}

/** The item a deletion is reported with. */
export const deletedItem = (): ConfigurationItem => ({ value: "", version: "", metadata: {} });
