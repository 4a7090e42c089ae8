// pubsub.in-memory: an in-process broker (the embedded default "pubsub"). Consumer groups keep their queue while
// the process lives, so an app that restarts under the same sidecar loses nothing; nothing survives the process.
import { field } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import {
  redeliveryDelayMs,
  type BulkPublishResult, type MessageHandler, type PublishRequest, type PubSub, type PubSubFeature,
  type PubSubMessage, type SubscribeRequest, type Subscription,
} from "../../src/components/contracts/pubsub.js";
import { InFlight, settledOrAborted } from "../../src/resiliency/sleep.js";

interface Queued {
  topic: string;
  data: Uint8Array;
  contentType?: string;
  metadata: Record<string, string>;
  attempt: number;
}

interface Member {
  handler: MessageHandler;
  maxInFlight: number;
  /** Messages handed out and not answered yet: given back to the group if the member leaves first. */
  pending: Set<Queued>;
  /** One per message handed out, until its answer is applied (acked, or queued for redelivery). */
  settling: Set<Promise<void>>;
  /** False once the member drains or leaves: it gets no more messages. */
  taking: boolean;
  /** Resolved when the member leaves: a drain still waiting has nothing left to wait for. */
  left: PromiseWithResolvers<void>;
}

interface Options {
  maxDeliver: number;
  redeliveryInitialMs: number;
  redeliveryMaxMs: number;
}

/** A consumer group: one queue, shared round-robin by its members. */
class Group {
  readonly queue: Queued[] = [];
  readonly members: Member[] = [];
  private next = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly opts: Options) {}

  push(q: Queued) {
    this.queue.push(q);
    this.pump();
  }

  pump() {
    while (this.queue.length) {
      const member = this.pick();
      if (!member) return;
      this.deliver(member, this.queue.shift()!);
    }
  }

  private pick(): Member | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.next + i) % n];
      if (m.taking && m.settling.size < m.maxInFlight) {
        this.next = (this.next + i + 1) % n;
        return m;
      }
    }
    return undefined;
  }

  /** A member leaves: whatever it had not answered goes back to the group (at-least-once). */
  leave(member: Member) {
    member.taking = false;
    const i = this.members.indexOf(member);
    if (i >= 0) this.members.splice(i, 1);
    this.queue.unshift(...member.pending);
    member.pending.clear();
    member.left.resolve();
    this.pump();
  }

  /** A member drains: it gets no more messages; resolves once those it has were answered (or `signal` aborts). */
  drain(member: Member, signal?: AbortSignal): Promise<void> {
    member.taking = false;
    return settledOrAborted(Promise.race([Promise.all(member.settling), member.left.promise]), signal);
  }

  private deliver(member: Member, q: Queued) {
    member.pending.add(q);
    const maxAttempts = this.opts.maxDeliver > 0 ? this.opts.maxDeliver : Infinity;
    const msg: PubSubMessage = { topic: q.topic, data: q.data, contentType: q.contentType, metadata: q.metadata, deliveryAttempt: q.attempt, maxAttempts };
    const settled: Promise<void> = Promise.resolve()
      .then(() => member.handler(msg))
      .catch(() => "retry" as const)
      .then((result) => {
        if (!member.pending.delete(q)) return; // the member left; the message was handed back already
        if (result === "retry" && q.attempt < maxAttempts) {
          const t = setTimeout(() => {
            this.timers.delete(t);
            this.push({ ...q, attempt: q.attempt + 1 });
          }, redeliveryDelayMs(q.attempt, this.opts.redeliveryInitialMs, this.opts.redeliveryMaxMs));
          this.timers.add(t);
        }
      })
      .finally(() => {
        member.settling.delete(settled);
        this.pump();
      });
    member.settling.add(settled);
  }

  close() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

class InMemoryPubSub implements PubSub {
  private readonly groups = new Map<string, Map<string, Group>>();
  private readonly ephemeral = new Map<string, Set<MessageHandler>>();
  private closed = false;

  constructor(private readonly opts: Options) {}

  features(): PubSubFeature[] {
    return ["BULK_PUBLISH", "DURABLE", "EPHEMERAL", "COMPETING_CONSUMERS", "CONTENT_TYPE", "HAND_BACK"];
  }

  async publish(req: PublishRequest): Promise<void> {
    if (this.closed) throw new Error("pubsub.in-memory is closed");
    const metadata = { ...(req.metadata ?? {}) };
    for (const group of this.groups.get(req.topic)?.values() ?? []) {
      group.push({ topic: req.topic, data: req.data, contentType: req.contentType, metadata, attempt: 1 });
    }
    for (const h of this.ephemeral.get(req.topic) ?? []) {
      void h({ topic: req.topic, data: req.data, contentType: req.contentType, metadata, deliveryAttempt: 1, maxAttempts: 1 }).catch(() => {});
    }
  }

  async bulkPublish(reqs: PublishRequest[]): Promise<BulkPublishResult> {
    const failed: BulkPublishResult["failed"] = [];
    for (const [index, r] of reqs.entries()) {
      await this.publish(r).catch((err) => failed.push({ index, error: String(err?.message ?? err) }));
    }
    return { failed };
  }

  async subscribe(req: SubscribeRequest, handler: MessageHandler): Promise<Subscription> {
    if (req.mode === "ephemeral") {
      let set = this.ephemeral.get(req.topic);
      if (!set) this.ephemeral.set(req.topic, (set = new Set()));
      const calls = new InFlight();
      const own = (m: PubSubMessage) => calls.track(handler(m));
      set.add(own);
      const closed = Promise.withResolvers<void>();
      return {
        drain: (signal) => {
          set!.delete(own);
          return settledOrAborted(Promise.race([calls.idle(), closed.promise]), signal);
        },
        close: async () => {
          set!.delete(own);
          closed.resolve();
        },
      };
    }
    let byGroup = this.groups.get(req.topic);
    if (!byGroup) this.groups.set(req.topic, (byGroup = new Map()));
    let group = byGroup.get(req.group);
    if (!group) byGroup.set(req.group, (group = new Group(this.opts)));
    const member: Member = { handler, maxInFlight: req.maxInFlight ?? 64, pending: new Set(), settling: new Set(), taking: true, left: Promise.withResolvers() };
    group.members.push(member);
    group.pump();
    return {
      drain: (signal) => group!.drain(member, signal),
      close: async () => group!.leave(member),
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    for (const byGroup of this.groups.values()) for (const g of byGroup.values()) g.close();
    this.groups.clear();
    this.ephemeral.clear();
  }
}

export default definePlugin({
  type: "pubsub.in-memory",
  metadata: {
    maxDeliver: field.int({ default: 10 }),
    redeliveryInitialDelay: field.duration({ default: 100 }),
    redeliveryMaxDelay: field.duration({ default: 10_000 }),
  },
  async create(md) {
    return new InMemoryPubSub({ maxDeliver: md.maxDeliver, redeliveryInitialMs: md.redeliveryInitialDelay, redeliveryMaxMs: md.redeliveryMaxDelay });
  },
});
