// An ephemeral subscription: XREAD from the stream's last entry at subscribe time on; every such subscriber sees
// every message published from then on, with no acknowledgement.
import type { MessageHandler, Subscription } from "../../src/components/contracts/pubsub.js";
import type { RedisConnection } from "../../src/components/redis/client.js";
import type { Logger } from "../../src/observability/logger.js";
import { settledOrAborted } from "../../src/resiliency/sleep.js";
import { parseEntry, streamEntries, toMessage, type RawEntry } from "./entries.js";
import { BLOCK_MS, startReadLoop } from "./reader.js";

export async function ephemeralSubscription(client: RedisConnection, topic: string, maxInFlight: number, handler: MessageHandler, logger: Logger): Promise<Required<Subscription>> {
  const last = (await client.xrevrange(topic, "+", "-", "COUNT", 1)) as [string, string[]][];
  let after = last[0]?.[0] ?? "0-0";
  const calls = new Set<Promise<unknown>>();
  const loop = await startReadLoop({
    client,
    logger,
    room: () => maxInFlight - calls.size,
    read: async (reader, count) =>
      streamEntries((await reader.xreadBuffer("COUNT", count, "BLOCK", BLOCK_MS, "STREAMS", topic, after)) as unknown as [Buffer, RawEntry[]][] | null),
    onEntries: (raw) => {
      for (const r of raw) {
        const e = parseEntry(r);
        if (!e) continue;
        after = e.id;
        const call: Promise<unknown> = handler(toMessage(topic, e, 1, 1)).catch(() => {}).finally(() => {
          calls.delete(call);
          loop.wake();
        });
        calls.add(call);
      }
    },
    onStopped: async () => {},
  });
  const drainNow = async () => {
    loop.stop();
    await loop.done;
    while (calls.size) await Promise.allSettled([...calls]);
  };
  return {
    drain: (signal) => settledOrAborted(drainNow(), signal),
    close: async () => {
      loop.stop();
      await loop.close();
    },
  };
}
