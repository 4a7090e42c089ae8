// The subscriptions of one configuration store instance: ids, the keys each wants, and delivery of updates to each
// handler one at a time in the order they were published. Every configuration plugin keeps its subscribers here and
// only reports what changed in its backend.
import { randomUUID } from "node:crypto";
import {
  SubscriptionNotFoundError,
  type ConfigurationItems,
  type ConfigurationUpdateHandler,
} from "../contracts/configuration.js";
import { dictionary } from "../../dictionary.js";
import type { Logger } from "../../observability/logger.js";
import { InFlight } from "../../resiliency/sleep.js";

interface Subscription {
  /** Empty: every key. */
  keys: Set<string>;
  handler: ConfigurationUpdateHandler;
  /** The last queued delivery: the next one starts after it. */
  tail: Promise<void>;
  active: boolean;
}

export class ConfigurationSubscriptions {
  private readonly subs = new Map<string, Subscription>();
  private readonly deliveries = new InFlight();

  constructor(private readonly logger: Logger, private readonly what: string) {}

  get size(): number {
    return this.subs.size;
  }

  add(keys: readonly string[], handler: ConfigurationUpdateHandler): string {
    const id = randomUUID();
    this.subs.set(id, { keys: new Set(keys), handler, tail: Promise.resolve(), active: true });
    return id;
  }

  /** Forgets a subscription: nothing queued for it is delivered any more. Returns its keys (empty: all keys). */
  remove(id: string): string[] {
    const sub = this.subs.get(id);
    if (!sub) throw new SubscriptionNotFoundError(id);
    sub.active = false;
    this.subs.delete(id);
    return [...sub.keys];
  }

  /** True when some subscription takes every key. */
  anyWantsAll(): boolean {
    for (const s of this.subs.values()) if (s.keys.size === 0) return true;
    return false;
  }

  /** True when some subscription wants `key`. */
  wants(key: string): boolean {
    for (const s of this.subs.values()) if (s.keys.size === 0 || s.keys.has(key)) return true;
    return false;
  }

  /** The keys some subscription names (not counting those that take every key). */
  namedKeys(): Set<string> {
    const keys = new Set<string>();
    for (const s of this.subs.values()) for (const k of s.keys) keys.add(k);
    return keys;
  }

  /** Queues `items` for every subscription that wants some of them (each gets only the keys it wants). */
  publish(items: ConfigurationItems): void {
    for (const [id, sub] of this.subs) {
      const mine = sub.keys.size === 0 ? items : pick(items, sub.keys);
      if (Object.keys(mine).length === 0) continue;
      sub.tail = this.deliveries.track(sub.tail.then(() => this.deliver(id, sub, mine)));
    }
  }

  private async deliver(id: string, sub: Subscription, items: ConfigurationItems): Promise<void> {
    if (!sub.active) return;
    try {
      await sub.handler({ id, items });
    } catch (err) {
      this.logger.warn(`${this.what}: the subscriber's handler failed; the update is not delivered again`, {
        subscription: id,
        keys: Object.keys(items).join(","),
        error: (err as Error)?.message ?? String(err),
      });
    }
  }

  /** Forgets every subscription and waits for the handler calls under way. */
  async close(): Promise<void> {
    for (const sub of this.subs.values()) sub.active = false;
    this.subs.clear();
    await this.deliveries.idle();
  }
}

function pick(items: ConfigurationItems, keys: Set<string>): ConfigurationItems {
  const out = dictionary<ConfigurationItems[string]>();
  for (const [k, item] of Object.entries(items)) if (keys.has(k)) out[k] = item;
  return out;
}
