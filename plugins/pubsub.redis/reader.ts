// A blocking XREAD / XREADGROUP loop on a connection of its own, reading no more than the subscription has room for
// (so nothing is ever buffered that a drain would have to give back), and stopped at once by CLIENT UNBLOCK.
import { Cluster } from "ioredis";
import { blockingConnection, closeRedis, type RedisConnection } from "../../src/components/redis/client.js";
import type { Logger } from "../../src/observability/logger.js";
import type { RawEntry } from "./entries.js";

/** How long one blocking read waits on the server before it is sent again. */
export const BLOCK_MS = 2_000;
const ERROR_BACKOFF_MS = 250;

export interface ReadLoop {
  /** Stops reading: a read under way returns at once (entries it still brings are for `onStopped`). */
  stop(): void;
  /** Resolves once the loop ended. */
  readonly done: Promise<void>;
  /** Wakes a loop waiting for room. */
  wake(): void;
  close(): Promise<void>;
}

export async function startReadLoop(opts: {
  client: RedisConnection;
  logger: Logger;
  /** How many more entries the subscription can take now. */
  room: () => number;
  /** One blocking read of at most `count` entries on `reader`. */
  read: (reader: RedisConnection, count: number) => Promise<RawEntry[]>;
  onEntries: (entries: RawEntry[]) => void;
  /** Entries that arrived after stop(). */
  onStopped: (entries: RawEntry[]) => Promise<void>;
  /** A read failed (the loop goes on after a pause). */
  onError?: (err: Error) => Promise<void>;
}): Promise<ReadLoop> {
  const reader = await blockingConnection(opts.client);
  let readerId: number | undefined;
  const learnId = () => {
    if (reader instanceof Cluster) return;
    reader.client("ID").then((id) => (readerId = Number(id)), () => {});
  };
  reader.on("ready", learnId);
  if (!(reader instanceof Cluster)) readerId = Number(await reader.client("ID"));
  let running = true;
  let waiting: (() => void) | undefined;
  const wake = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  const done = (async () => {
    while (running) {
      const room = opts.room();
      if (room <= 0) {
        await new Promise<void>((r) => (waiting = r));
        continue;
      }
      let entries: RawEntry[];
      try {
        entries = await opts.read(reader, room);
      } catch (err) {
        if (!running) break;
        await opts.onError?.(err as Error).catch(() => {});
        opts.logger.debug("redis stream read failed", { error: (err as Error).message });
        await Bun.sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (!running) {
        await opts.onStopped(entries);
        break;
      }
      if (entries.length) opts.onEntries(entries);
    }
  })();
  return {
    stop() {
      if (!running) return;
      running = false;
      wake();
      // Cluster connections have no single id to unblock: their read ends within BLOCK_MS.
      if (readerId !== undefined && !(opts.client instanceof Cluster)) opts.client.client("UNBLOCK", readerId).catch(() => {});
    },
    done,
    wake,
    close: () => closeRedis(reader),
  };
}
