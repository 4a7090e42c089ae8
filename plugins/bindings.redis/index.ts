// bindings.redis: Dapr's Redis output binding. Operations on the string at metadata.key: create (SET, the request's
// data as it arrives), get (GET, or GETDEL with metadata.delete=true; a missing key gives empty data), delete (DEL),
// increment (INCR); create and increment take metadata.ttlInSeconds, set in the same round trip.
import {
  BindingRequestError, unsupportedOperation, type BindingRequest, type BindingResponse, type OutputBinding,
} from "../../src/components/contracts/bindings.js";
import { definePlugin } from "../../src/components/plugin.js";
import { closeRedis, connectRedis, redisConnectionMetadata, type RedisConnection } from "../../src/components/redis/client.js";

const OPERATIONS = ["create", "get", "delete", "increment"] as const;
const NONE: BindingResponse = { data: new Uint8Array(0), metadata: {} };

class RedisBinding implements OutputBinding {
  private closed = false;

  constructor(private readonly client: RedisConnection, private readonly where: string) {}

  operations() {
    return [...OPERATIONS];
  }

  /** metadata.ttlInSeconds as whole seconds, undefined when absent. */
  private ttl(req: BindingRequest): number | undefined {
    const raw = req.metadata.ttlInSeconds;
    if (raw === undefined || raw === "") return undefined;
    if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1) throw new BindingRequestError(`${this.where}: metadata.ttlInSeconds must be a positive integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  }

  async invoke(req: BindingRequest): Promise<BindingResponse> {
    req.signal?.throwIfAborted();
    if (this.closed) throw new Error(`${this.where} is closed`);
    if (!(OPERATIONS as readonly string[]).includes(req.operation)) throw unsupportedOperation(this.where, req.operation, OPERATIONS);
    const key = req.metadata.key;
    if (!key) throw new BindingRequestError(`${this.where}: missing key in request metadata`);
    const work = this.run(req, key);
    if (!req.signal) return work;
    // Redis answers at once; an abort only stops the wait for the answer.
    return Promise.race([work, new Promise<never>((_, reject) => req.signal!.addEventListener("abort", () => reject(req.signal!.reason), { once: true }))]);
  }

  private async run(req: BindingRequest, key: string): Promise<BindingResponse> {
    switch (req.operation) {
      case "create": {
        const ttl = this.ttl(req);
        const value = Buffer.from(req.data.buffer, req.data.byteOffset, req.data.byteLength);
        if (ttl) await this.client.set(key, value, "EX", ttl);
        else await this.client.set(key, value);
        return NONE;
      }
      case "get": {
        const data = req.metadata.delete === "true" ? await this.client.getdelBuffer(key) : await this.client.getBuffer(key);
        return data ? { data, metadata: {} } : NONE;
      }
      case "delete":
        await this.client.del(key);
        return NONE;
      default: {
        const ttl = this.ttl(req);
        const tx = this.client.multi().incr(key);
        if (ttl) tx.expire(key, ttl);
        const results = await tx.exec();
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0];
        return NONE;
      }
    }
  }

  async ping() {
    await this.client.ping();
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await closeRedis(this.client);
  }
}

export default definePlugin({
  type: "bindings.redis",
  versions: ["v1"],
  metadata: redisConnectionMetadata,
  async create(meta, ctx) {
    const where = `bindings.redis "${ctx.name}"`;
    return new RedisBinding(await connectRedis(meta, ctx.logger, where), where);
  },
});
