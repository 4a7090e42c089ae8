// Subscribers outside the cluster (browsers, devices): one ephemeral broker subscription per topic per node,
// fanned out in-process. Each event is serialized once; each client has its own bounded buffer and a drop
// counter, so a slow client loses events rather than slowing the node or the other clients. A topic's events are
// fanned out one after the other, off the publisher's call; filters are evaluated within a budget
// (bounded-cel.ts), all of a topic's distinct filters together within TOPIC_FILTER_LIMITS per event, and a fan-out
// lets other work run every FANOUT_SLICE_MS, so costly filters slow only their topic's outside subscribers.
import { Slot } from "../../../runtime/block.js";
import type { HandlerResult, PubSubMessage, Subscription } from "../../../components/contracts/pubsub.js";
import { errors } from "../../../errors.js";
import type { Logger } from "../../../observability/logger.js";
import { eventFromBroker, type CloudEvent } from "../cloudevents.js";
import type { PubsubBlock } from "../pubsub-block.js";
import { CEL_LIMITS } from "../bounded-cel.js";
import { celEvent, compileFilter, overBudgetWarner, type CelEvent, type EventFilter, type OverBudget } from "../routing.js";
import { TokenError, tokenAllows, verifySubscriberToken, type SubscriberClaims } from "./tokens.js";

/** What the hub hands a client: the event and its JSON text (shared by all clients). */
export interface OutsideEvent {
  ce: CloudEvent;
  json: string;
  /** A transport's shared rendering of the event (built by the first client that needs it). */
  frame0?: string;
}

export interface OutsideClient {
  /** Called for each matching event; must not block. Returns false when the client dropped it. */
  offer(ev: OutsideEvent): boolean;
  /** How many subscribers this entry stands for (a transport's native broadcast group); default 1. */
  size?(): number;
}

interface Attached {
  client: OutsideClient;
  filter?: EventFilter;
  filterText?: string;
}

interface TopicFanout {
  clients: Set<Attached>;
  subscription: Promise<Subscription>;
  /** Clients per distinct filter text: what the topic's fan-out evaluates per event. */
  filters: Map<string, number>;
  /** The sum of the static cost estimates of `filters`. */
  filterCost: number;
  /** The fan-outs of this topic's events, one after the other. */
  queue: Promise<void>;
  pending: number;
  pendingBytes: number;
}

/** Time one fan-out may hold the event loop before it lets other work run. */
const FANOUT_SLICE_MS = 10;
/** Events of one topic waiting for their fan-out; further ones are dropped (outside subscribers are at-most-once). */
const MAX_PENDING_FANOUTS = 1024;
/** Bytes of events of one topic waiting for their fan-out; further ones are dropped. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

/**
 * What one node evaluates per event of a topic for its outside subscribers, whatever their number: distinct filters
 * (a filter shared by many clients counts once), the sum of their static estimates (checked at subscribe time) and
 * the units all their evaluations of one event may spend together (each also within CEL_LIMITS.maxCost).
 */
export const TOPIC_FILTER_LIMITS = {
  maxFilters: 64,
  maxCost: 10 * CEL_LIMITS.maxCost,
} as const;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export interface OutsideHubOptions {
  /** HMAC secret for subscriber tokens; without one, outside subscribers are refused. */
  secret?: string;
  /** Events a client may have queued before new ones are dropped. */
  bufferSize: number;
  nodeId: string;
  logger: Logger;
}

export interface OutsideStats {
  clients: number;
  topics: number;
  delivered: number;
  dropped: number;
  /** How long handing the last event to every client of its topic took on this node. */
  lastFanoutMs: number;
}

export class OutsideHub {
  private readonly topics = new Map<string, TopicFanout>();
  private readonly filters = new Map<string, EventFilter>();
  private delivered = 0;
  private dropped = 0;
  private lastFanoutMs = 0;
  private readonly overBudget: OverBudget;

  constructor(private readonly block: PubsubBlock, readonly opts: OutsideHubOptions) {
    this.overBudget = overBudgetWarner(opts.logger, { subscribers: "outside" });
  }

  get bufferSize(): number {
    return this.opts.bufferSize;
  }

  /** Checks a token against the topic; throws Dapr errors (401 no/bad token, 403 topic not in scope). */
  authorize(token: string | undefined, pubsubName: string, topic: string): SubscriberClaims {
    if (!this.opts.secret) throw errors.pubsubForbidden("subscribers outside the cluster are disabled on this node (no --subscriber-token-secret)");
    if (!token) throw errors.apiUnauthorized("a subscriber token is required");
    let claims: SubscriberClaims;
    try {
      claims = verifySubscriberToken(this.opts.secret, token);
    } catch (err) {
      throw errors.apiUnauthorized(err instanceof TokenError ? err.message : "invalid subscriber token");
    }
    if (!tokenAllows(claims, pubsubName, topic)) throw errors.pubsubForbidden(`the token for ${claims.sub} does not cover ${pubsubName}/${topic}`);
    return claims;
  }

  /** Compiles (once per distinct text) a CEL filter; throws a 400 on a bad, too long or too costly expression. */
  filter(text: string | undefined): EventFilter | undefined {
    if (!text) return undefined;
    let f = this.filters.get(text);
    if (!f) {
      f = compileFilter(text, this.overBudget);
      if (this.filters.size > 10_000) this.filters.clear();
      this.filters.set(text, f);
    }
    return f;
  }

  /** Adds a client to a topic's fan-out (subscribing on the broker for the first one); returns the detach function. */
  async attach(pubsubName: string, topic: string, filterText: string | undefined, client: OutsideClient): Promise<() => void> {
    this.block.component(pubsubName);
    const entry: Attached = { client, filter: this.filter(filterText), filterText };
    const key = `${pubsubName}\u0000${topic}`;
    let fan = this.topics.get(key);
    if (!fan) {
      const created: TopicFanout = {
        clients: new Set(),
        filters: new Map(),
        filterCost: 0,
        queue: Promise.resolve(),
        pending: 0,
        pendingBytes: 0,
        subscription: this.block.component(pubsubName).subscribe({ topic, mode: "ephemeral", group: this.opts.nodeId }, (msg) => this.onEvent(created, msg, pubsubName, topic)),
      };
      fan = created;
      this.topics.set(key, created);
      created.subscription.catch(() => this.topics.get(key) === created && this.topics.delete(key));
    }
    useFilter(fan, entry, pubsubName, topic);
    fan.clients.add(entry);
    await fan.subscription;
    let attached = true;
    const f = fan;
    return () => {
      if (!attached) return;
      attached = false;
      f.clients.delete(entry);
      releaseFilter(f, entry);
      if (f.clients.size === 0 && this.topics.get(key) === f) {
        this.topics.delete(key);
        void f.subscription.then((s) => s.close()).catch(() => {});
      }
    };
  }

  private async onEvent(f: TopicFanout, msg: PubSubMessage, pubsubName: string, topic: string): Promise<HandlerResult> {
    const { ce } = eventFromBroker(msg.data, msg.contentType, { topic, pubsubName });
    const bytes = msg.data.length;
    if (f.pending >= MAX_PENDING_FANOUTS || f.pendingBytes + bytes > MAX_PENDING_BYTES) {
      this.dropped += f.clients.size;
      return "success";
    }
    f.pending++;
    f.pendingBytes += bytes;
    f.queue = f.queue
      .then(() => this.fanOut(f.clients, ce))
      .catch((err) => this.opts.logger.warn("fan-out to outside subscribers failed", { topic, error: (err as Error).message }))
      .finally(() => {
        f.pending--;
        f.pendingBytes -= bytes;
      });
    await f.queue;
    return "success";
  }

  private async fanOut(clients: Set<Attached>, ce: CloudEvent) {
    const started = performance.now();
    let turnStarted = started;
    const ev: OutsideEvent = { ce, json: JSON.stringify(ce) };
    let event: CelEvent | undefined;
    // One evaluation per distinct filter per event, however many clients share it, all within one topic budget.
    const verdicts = new Map<string, boolean>();
    let budget: number = TOPIC_FILTER_LIMITS.maxCost;
    for (const a of [...clients]) {
      if (a.filter) {
        let ok = verdicts.get(a.filterText!);
        if (ok === undefined) {
          if (performance.now() - turnStarted > FANOUT_SLICE_MS) {
            await nextTurn();
            turnStarted = performance.now();
          }
          if (budget > 0) {
            const r = a.filter.test((event ??= celEvent(ce)), budget);
            budget -= Math.max(1, r.spent);
            ok = r.match;
          } else {
            this.overBudget(a.filterText!);
            ok = false;
          }
          verdicts.set(a.filterText!, ok);
        }
        if (!ok || !clients.has(a)) continue;
      }
      if (a.client.offer(ev)) this.delivered += a.client.size?.() ?? 1;
      else this.dropped++;
    }
    this.lastFanoutMs = performance.now() - started;
  }

  stats(): OutsideStats {
    let clients = 0;
    for (const fan of this.topics.values()) for (const a of fan.clients) clients += a.client.size?.() ?? 1;
    return { clients, topics: this.topics.size, delivered: this.delivered, dropped: this.dropped, lastFanoutMs: this.lastFanoutMs };
  }

  async close(): Promise<void> {
    const all = [...this.topics.values()];
    this.topics.clear();
    await Promise.allSettled(all.map((f) => f.subscription.then((s) => s.close())));
  }
}

/** Counts a client's filter on its topic; a new distinct filter is refused (429) past TOPIC_FILTER_LIMITS. */
function useFilter(fan: TopicFanout, entry: Attached, pubsubName: string, topic: string) {
  const text = entry.filterText;
  if (!entry.filter || !text) return;
  const users = fan.filters.get(text);
  if (users === undefined) {
    if (fan.filters.size >= TOPIC_FILTER_LIMITS.maxFilters) {
      throw errors.pubsubFilterLimit(`${pubsubName}/${topic} already has ${fan.filters.size} distinct filters on this node, the limit is ${TOPIC_FILTER_LIMITS.maxFilters}; share a filter or subscribe without one`);
    }
    if (fan.filterCost + entry.filter.cost > TOPIC_FILTER_LIMITS.maxCost) {
      throw errors.pubsubFilterLimit(`${pubsubName}/${topic}'s filters on this node would be estimated at ${fan.filterCost + entry.filter.cost} units per event, the limit is ${TOPIC_FILTER_LIMITS.maxCost}; use a cheaper filter`);
    }
    fan.filterCost += entry.filter.cost;
  }
  fan.filters.set(text, (users ?? 0) + 1);
}

function releaseFilter(fan: TopicFanout, entry: Attached) {
  const text = entry.filterText;
  const users = text === undefined ? undefined : fan.filters.get(text);
  if (users === undefined || !entry.filter) return;
  if (users > 1) return void fan.filters.set(text!, users - 1);
  fan.filters.delete(text!);
  fan.filterCost -= entry.filter.cost;
}

/** A client whose transport pulls (a server stream): a bounded queue, newest events dropped when it is full. */
export class QueuedClient implements OutsideClient {
  private readonly queue: OutsideEvent[] = [];
  private waiter?: () => void;
  dropped = 0;
  closed = false;

  constructor(private readonly capacity: number) {}

  offer(ev: OutsideEvent): boolean {
    if (this.closed) return false;
    if (this.queue.length >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.queue.push(ev);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    return true;
  }

  /** The next event, or undefined once closed. */
  async next(): Promise<OutsideEvent | undefined> {
    while (!this.queue.length && !this.closed) await new Promise<void>((r) => (this.waiter = r));
    return this.queue.shift();
  }

  close() {
    this.closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** The outside-subscriber hub of the running pub/sub block, for the API fronts. */
export const outsideSlot = new Slot<OutsideHub>("outside-subscribers");
