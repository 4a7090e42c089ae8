// lock.redis: Dapr's Redis lock (components-contrib lock/redis): the lock is a key holding its owner, taken with
// SET NX PX and released by a Lua script that deletes it only for its owner. A single node or Sentinel (failover);
// like Dapr it refuses a cluster, and a node with replicas unless failover is on (a lock on an asynchronous
// replica can be lost, and then held twice).
import type { Result } from "ioredis";
import { checkTryLock, checkUnlock, type LockStore, type TryLockRequest, type UnlockRequest, type UnlockStatus } from "../../src/components/contracts/lock.js";
import { MetadataError } from "../../src/components/metadata-schema.js";
import { definePlugin } from "../../src/components/plugin.js";
import { closeRedis, connectRedis, redisConnectionMetadata, type RedisConnection } from "../../src/components/redis/client.js";

declare module "ioredis" {
  interface RedisCommander<Context> {
    raprLockUnlock(key: string, owner: string): Result<number, Context>;
  }
}

/** Dapr's script, word for word in effect: -1 no such lock, -2 someone else's, else the DEL count. */
const UNLOCK = `local v = redis.call("get",KEYS[1]); if v==false then return -1 end; if v~=ARGV[1] then return -2 else return redis.call("del",KEYS[1]) end`;

class RedisLockStore implements LockStore {
  constructor(private readonly client: RedisConnection, private readonly name: string) {
    client.defineCommand("raprLockUnlock", { lua: UNLOCK, numberOfKeys: 1 });
  }

  async tryLock(req: TryLockRequest): Promise<boolean> {
    checkTryLock(req, this.name);
    return (await this.client.set(req.resourceId, req.lockOwner, "PX", req.expiryInSeconds * 1000, "NX")) === "OK";
  }

  async unlock(req: UnlockRequest): Promise<UnlockStatus> {
    checkUnlock(req, this.name);
    const r = await this.client.raprLockUnlock(req.resourceId, req.lockOwner);
    if (r >= 0) return "SUCCESS";
    if (r === -1) return "LOCK_DOES_NOT_EXIST";
    if (r === -2) return "LOCK_BELONGS_TO_OTHERS";
    return "INTERNAL_ERROR";
  }

  async ping() {
    await this.client.ping();
  }

  close() {
    return closeRedis(this.client);
  }
}

/** connected_slaves from INFO replication; undefined when the server does not say (Dapr then lets it pass). */
async function replicaCount(client: RedisConnection): Promise<number | undefined> {
  try {
    const m = /connected_slaves:(\d+)/.exec(await client.info("replication"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export default definePlugin({
  type: "lock.redis",
  versions: ["v1"],
  metadata: redisConnectionMetadata,
  async create(md, ctx) {
    if (md.redisType === "cluster") throw new MetadataError("redisType", `lock.redis: a Redis cluster is not supported (a lock could be lost in a failover); use a single node or Sentinel`);
    const client = await connectRedis(md, ctx.logger, `lock.redis "${ctx.name}"`);
    const replicas = md.failover ? undefined : await replicaCount(client);
    if (replicas) {
      await closeRedis(client);
      throw new Error(`lock.redis: the server has ${replicas} replica(s): replication is not supported unless failover (Sentinel) is on, as in Dapr`);
    }
    return new RedisLockStore(client, ctx.name);
  },
});
