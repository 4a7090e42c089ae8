// The least a process between an HTTP client and Redis can do for Dapr's state API: Bun.serve answering
// POST /v1.0/state/statestore and GET /v1.0/state/statestore/{key} with state.redis's two Lua scripts over one
// auto-pipelined ioredis connection, no validation, no ETags back. bench/state.ts runs it as the Redis floor.
//   PORT=… REDIS_HOST=host:port PREFIX=… bun bench/state-redis-floor.ts
import { Redis } from "ioredis";
import { READ, WRITE } from "../plugins/state.redis/scripts.js";

const redis = new Redis(`redis://${process.env.REDIS_HOST}`, { enableAutoPipelining: true });
redis.defineCommand("floorWrite", { lua: WRITE, numberOfKeys: 1 });
redis.defineCommand("floorRead", { lua: READ, numberOfKeys: 1 });
const r = redis as Redis & { floorWrite(...a: (string | Buffer)[]): Promise<number>; floorReadBuffer(k: string): Promise<[Buffer] | null> };
const prefix = process.env.PREFIX ?? "floor||";
const base = "/v1.0/state/statestore";

Bun.serve({
  port: Number(process.env.PORT),
  hostname: "127.0.0.1",
  async fetch(req) {
    const path = new URL(req.url).pathname;
    if (req.method === "POST" && path === base) {
      for (const item of (await req.json()) as { key: string; value: unknown }[]) {
        const ver = String(1 + Math.floor(Math.random() * 2 ** 48));
        await r.floorWrite(prefix + item.key, "set", "", Buffer.from(JSON.stringify(item.value)), "0", "0", ver, "");
      }
      return new Response(null, { status: 204 });
    }
    if (req.method === "GET" && path.startsWith(`${base}/`)) {
      const got = await r.floorReadBuffer(prefix + path.slice(base.length + 1));
      return got ? new Response(got[0]) : new Response(null, { status: 204 });
    }
    return new Response("ok");
  },
});
