// A durable subscription: a member of the consumer group (Dapr's consumerID) on the topic's stream. At-least-once:
// XACK after "success" or "drop"; "retry" redelivers here after the backoff (XCLAIM, which counts the attempt);
// entries pending longer than processingTimeout anywhere in the group (a member that died) are claimed every
// redeliverInterval. A message given back (drain, close) is marked idle for processingTimeout, so the next claim
// anywhere in the group takes it at once.
import type { HandlerResult, MessageHandler, Subscription } from "../../src/components/contracts/pubsub.js";
import type { RedisConnection } from "../../src/components/redis/client.js";
import type { Logger } from "../../src/observability/logger.js";
import { settledOrAborted, settlesWithin } from "../../src/resiliency/sleep.js";
import { parseEntry, streamEntries, toMessage, type Entry, type RawEntry } from "./entries.js";
import { BLOCK_MS, startReadLoop } from "./reader.js";

const CLOSE_STEP_MS = 1_000;

type Args = (string | number | Buffer)[];
/** An ioredis command method by name, with variadic arguments (its typings list fixed shapes only). */
const command = (c: RedisConnection, name: "xclaim" | "xclaimBuffer", ...args: Args): Promise<unknown> =>
  (c as unknown as Record<string, (...a: Args) => Promise<unknown>>)[name](...args);

export interface DurableOptions {
  topic: string;
  group: string;
  /** Dapr names the consumer after the group too: every member of a group is one consumer. */
  consumer: string;
  /** Most messages held at once (handed to the handler or waiting to be retried). */
  maxInFlight: number;
  /** Most entries one read asks for. */
  queueDepth: number;
  processingTimeoutMs: number;
  redeliverIntervalMs: number;
  maxAttempts: number;
  retryDelayMs: (attempt: number) => number;
}

/** XGROUP CREATE from the stream's start (as Dapr), creating the stream; an existing group is fine. */
export async function ensureGroup(client: RedisConnection, topic: string, group: string): Promise<void> {
  try {
    await client.xgroup("CREATE", topic, group, "0", "MKSTREAM");
  } catch (err) {
    if (!String((err as Error).message).startsWith("BUSYGROUP")) throw err;
  }
}

export async function durableSubscription(client: RedisConnection, o: DurableOptions, handler: MessageHandler, logger: Logger): Promise<Required<Subscription>> {
  await ensureGroup(client, o.topic, o.group);
  /** Handed to the handler and not answered yet. */
  const unanswered = new Set<string>();
  /** Answered "retry", waiting out the backoff before they are handed to the handler again. */
  const retrying = new Map<string, ReturnType<typeof setTimeout>>();
  /** Work that ends with a message settled with Redis (acked, given back or redelivered). */
  const settling = new Set<Promise<void>>();
  let taking = true;
  const held = () => unanswered.size + retrying.size;
  const room = () => Math.min(o.queueDepth, o.maxInFlight - held());

  const track = (work: Promise<void>) => {
    const p = work.catch((err: Error) => logger.warn("redis pub/sub: settling a message failed", { topic: o.topic, error: err.message }))
      .finally(() => {
        settling.delete(p);
        loop.wake();
      });
    settling.add(p);
  };

  /** Gives messages back to the group: pending and idle for processingTimeout less `soonerMs`, so claimable then. */
  const giveBack = async (ids: string[], soonerMs = 0) => {
    if (!ids.length) return;
    const idle = Math.max(0, o.processingTimeoutMs - soonerMs);
    await command(client, "xclaim", o.topic, o.group, o.consumer, 0, ...ids, "IDLE", idle, "JUSTID");
  };

  const settle = async (e: Entry, attempt: number, result: HandlerResult) => {
    if (result !== "retry" || attempt >= o.maxAttempts) {
      await client.xack(o.topic, o.group, e.id);
      return;
    }
    const delay = o.retryDelayMs(attempt);
    if (!taking) return giveBack([e.id], delay);
    retrying.set(e.id, setTimeout(() => {
      retrying.delete(e.id);
      track(redeliver(e.id, attempt + 1));
    }, delay));
  };

  const deliver = (e: Entry, attempt: number) => {
    unanswered.add(e.id);
    track((async () => {
      let result: HandlerResult;
      try {
        result = await handler(toMessage(o.topic, e, attempt, o.maxAttempts));
      } catch {
        result = "retry";
      }
      if (!unanswered.delete(e.id)) return; // given back at close
      await settle(e, attempt, result);
    })());
  };

  /** Claims entries for this member (XCLAIM counts a delivery) and hands them to the handler. */
  const claimAndDeliver = async (ids: string[], minIdleMs: number, attemptOf: (id: string) => number) => {
    const raw = (await command(client, "xclaimBuffer", o.topic, o.group, o.consumer, minIdleMs, ...ids)) as (RawEntry | null)[];
    for (const r of raw) {
      if (!r) continue;
      const e = parseEntry(r);
      if (!e) {
        await client.xack(o.topic, o.group, r[0].toString()); // trimmed from the stream while pending (Redis < 7)
      } else if (!taking) {
        await giveBack([e.id]);
      } else {
        deliver(e, attemptOf(e.id));
      }
    }
  };

  const redeliver = (id: string, attempt: number) => (taking ? claimAndDeliver([id], 0, () => attempt) : giveBack([id]));

  let reclaiming = false;
  /** Claims what has been pending in the group for processingTimeout (a member died or gave it back). */
  const reclaim = async () => {
    if (reclaiming || !taking || room() <= 0) return;
    reclaiming = true;
    try {
      const pending = (await client.xpending(o.topic, o.group, "IDLE", o.processingTimeoutMs, "-", "+", room())) as [string, string, number, number][];
      const mine = (id: string) => unanswered.has(id) || retrying.has(id);
      const stale = pending.filter(([id]) => !mine(id));
      if (!stale.length || !taking) return;
      const deliveries = new Map(stale.map(([id, , , count]) => [id, Number(count)]));
      await claimAndDeliver([...deliveries.keys()], o.processingTimeoutMs, (id) => (deliveries.get(id) ?? 0) + 1);
    } catch (err) {
      logger.debug("redis pub/sub: claiming pending messages failed", { topic: o.topic, error: (err as Error).message });
    } finally {
      reclaiming = false;
    }
  };

  const loop = await startReadLoop({
    client,
    logger,
    room,
    read: async (reader, count) =>
      streamEntries((await reader.xreadgroupBuffer("GROUP", o.group, o.consumer, "COUNT", count, "BLOCK", BLOCK_MS, "STREAMS", o.topic, ">")) as unknown as [Buffer, RawEntry[]][] | null),
    onEntries: (raw) => {
      for (const r of raw) {
        const e = parseEntry(r);
        if (e) deliver(e, 1);
      }
    },
    onStopped: (raw) => giveBack(raw.map((r) => r[0].toString())).catch(() => {}),
    onError: async (err) => {
      // The group (or the stream) was deleted, or the server lost its data: make it again, as Dapr does.
      if (err.message.includes("NOGROUP")) await ensureGroup(client, o.topic, o.group);
    },
  });
  const reclaimer = o.processingTimeoutMs > 0 && o.redeliverIntervalMs > 0 ? setInterval(() => void reclaim(), o.redeliverIntervalMs) : undefined;
  if (reclaimer) void reclaim();

  let stopped: Promise<void> | undefined;
  const stopTaking = () =>
    (stopped ??= (async () => {
      taking = false;
      clearInterval(reclaimer);
      loop.stop();
      const waiting = [...retrying.keys()];
      for (const t of retrying.values()) clearTimeout(t);
      retrying.clear();
      await giveBack(waiting).catch(() => {});
    })());
  const closed = Promise.withResolvers<void>();
  const drainNow = async () => {
    await stopTaking();
    await loop.done;
    while (settling.size) await Promise.allSettled([...settling]);
  };
  return {
    drain: (signal) => settledOrAborted(Promise.race([drainNow(), closed.promise]), signal),
    close: async () => {
      await stopTaking();
      await settlesWithin(loop.done, BLOCK_MS + CLOSE_STEP_MS);
      const left = [...unanswered];
      unanswered.clear(); // an answer that comes later is not sent: the message went back
      await settlesWithin(giveBack(left), CLOSE_STEP_MS);
      closed.resolve();
      await loop.close();
    },
  };
}
