// The Redis connection every Redis component shares: Dapr's metadata names (common/component/redis in
// components-contrib) turned into an ioredis client for a single node, Sentinel (`failover`) or a cluster
// (`redisType: cluster`). ioredis rather than Bun's RedisClient: Bun hands every bulk reply back as a UTF-8 string
// (only getBuffer keeps bytes), and Dapr's layout keeps values in hash fields and stream entries, which may be binary.
import type { Socket } from "node:net";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { field, MetadataError, parseDuration, type MetadataOf } from "../metadata-schema.js";
import type { Logger } from "../../observability/logger.js";

export type RedisConnection = Redis | Cluster;

/** The connection settings of every Redis component, as Dapr names them. */
export const redisConnectionMetadata = {
  redisHost: field.string({ required: true }),
  redisPort: field.int({ default: 0, min: 0 }),
  redisPassword: field.string({ default: "", sensitive: true }),
  redisUsername: field.string({ default: "" }),
  redisDB: field.int({ default: 0, min: 0 }),
  redisType: field.string({ default: "node", oneOf: ["node", "cluster"] }),
  failover: field.bool({ default: false }),
  sentinelMasterName: field.string({ default: "" }),
  sentinelUsername: field.string({ default: "" }),
  sentinelPassword: field.string({ default: "", sensitive: true }),
  enableTLS: field.bool({ default: false }),
  insecureSkipTLSVerify: field.bool({ default: false }),
  clientCert: field.string({ default: "" }),
  clientKey: field.string({ default: "", sensitive: true }),
  redisMaxRetries: field.int({ default: 3, aliases: ["maxRetries"] }),
  // Dapr's Redis durations: a bare integer is milliseconds, otherwise a Go duration ("2s").
  redisMinRetryInterval: field.string({ default: "8ms" }),
  redisMaxRetryInterval: field.string({ default: "512ms", aliases: ["maxRetryBackoff"] }),
  dialTimeout: field.string({ default: "5s" }),
  readTimeout: field.string({ default: "3s" }),
  useEntraID: field.bool({ default: false, aliases: ["useAzureAD"] }),
  useOIDC: field.bool({ default: false }),
};
export type RedisConnectionMetadata = MetadataOf<typeof redisConnectionMetadata>;

/** A Dapr Redis duration in ms: a bare integer is milliseconds (negative: off, -1), else a Go duration. */
export function redisDuration(name: string, value: string): number {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) return Math.max(-1, Number(v));
  const ms = parseDuration(v);
  if (ms === undefined) throw new MetadataError(name, `metadata field "${name}": must be milliseconds or a duration such as "2s", got "${value}"`);
  return ms;
}

/** "host:port", "[::1]:6379" or "host" (then redisPort, else 6379). */
export function parseHostList(hosts: string, port: number): { host: string; port: number }[] {
  return hosts.split(",").map((h) => h.trim()).filter(Boolean).map((addr) => {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]+)(?::(\d+))?$/.exec(addr);
    if (!m) throw new MetadataError("redisHost", `metadata field "redisHost": "${addr}" is not host:port`);
    const own = m[2] ? Number(m[2]) : undefined;
    if (own !== undefined && port && own !== port) {
      throw new MetadataError("redisHost", `metadata field "redisHost": "${addr}" already names port ${own} but redisPort is ${port}; remove one`);
    }
    return { host: m[1], port: own ?? (port || 6379) };
  });
}

/** Connects (and pings) as the metadata says; rejects with the reason when the server cannot be reached. */
export async function connectRedis(md: RedisConnectionMetadata, logger: Logger, what: string): Promise<RedisConnection> {
  if (md.useEntraID || md.useOIDC) {
    throw new MetadataError(md.useEntraID ? "useEntraID" : "useOIDC", `${what}: token authentication (useEntraID, useOIDC) is not supported; use redisUsername/redisPassword`);
  }
  const hosts = parseHostList(md.redisHost, md.redisPort);
  const minRetry = Math.max(1, redisDuration("redisMinRetryInterval", md.redisMinRetryInterval));
  const maxRetry = Math.max(minRetry, redisDuration("redisMaxRetryInterval", md.redisMaxRetryInterval));
  const readTimeout = redisDuration("readTimeout", md.readTimeout);
  const options: RedisOptions = {
    username: md.redisUsername || undefined,
    password: md.redisPassword || undefined,
    db: md.redisDB,
    connectTimeout: Math.max(1, redisDuration("dialTimeout", md.dialTimeout)),
    // A server that stops answering fails the call (as go-redis' readTimeout does) instead of hanging it.
    commandTimeout: readTimeout > 0 ? Math.max(readTimeout, 1000) : undefined,
    maxRetriesPerRequest: Math.max(0, md.redisMaxRetries),
    // Reconnects for as long as the component lives, backing off from redisMinRetryInterval to redisMaxRetryInterval.
    retryStrategy: (times) => Math.min(maxRetry, minRetry * 2 ** Math.min(times - 1, 16)),
    enableAutoPipelining: true,
    lazyConnect: true,
    tls: md.enableTLS
      ? { rejectUnauthorized: !md.insecureSkipTLSVerify, cert: md.clientCert || undefined, key: md.clientKey || undefined }
      : undefined,
  };
  let client: RedisConnection;
  if (md.redisType === "cluster") {
    client = new Cluster(hosts, { redisOptions: options, enableAutoPipelining: true, lazyConnect: true, clusterRetryStrategy: options.retryStrategy });
  } else if (md.failover) {
    if (!md.sentinelMasterName) throw new MetadataError("sentinelMasterName", `${what}: metadata field "sentinelMasterName" is required with failover: true`);
    client = new Redis({
      ...options,
      sentinels: hosts,
      name: md.sentinelMasterName,
      sentinelUsername: md.sentinelUsername || undefined,
      sentinelPassword: md.sentinelPassword || undefined,
      enableTLSForSentinelMode: md.enableTLS,
    });
  } else {
    client = new Redis({ ...options, host: hosts[0].host, port: hosts[0].port });
  }
  if (client instanceof Cluster) client.on("+node", coalesceWrites);
  else coalesceWrites(client);
  let lastError = "";
  client.on("error", (err: Error) => {
    // ioredis reports every failed reconnect: log each distinct reason once.
    if (err.message !== lastError) logger.warn(`${what}: Redis connection error`, { error: err.message });
    lastError = err.message;
  });
  client.on("ready", () => (lastError = ""));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new Error(`${what}: cannot connect to Redis at ${md.redisHost}: ${(err as Error).message}`);
  }
  return client;
}

/** A turn that queues this much writes at once rather than holding it. */
const WRITE_NOW_BYTES = 32 * 1024;

/**
 * Gathers the commands one turn of the event loop sends into one socket write. ioredis' auto-pipelining flushes per
 * microtask checkpoint, and in a sidecar every request starts in its own macrotask, so each command was a write of
 * its own (socket writes were a fifth of a sidecar's CPU under bench/state.ts), as for NATS
 * (plugins/pubsub.nats/connect.ts). Bytes still held when the connection drops fail their commands as ioredis fails
 * any command in flight on a dead connection.
 */
function coalesceWrites(client: Redis): void {
  client.on("connect", () => {
    const socket = (client as unknown as { stream?: Socket & { raprCoalesced?: boolean } }).stream;
    if (!socket || socket.raprCoalesced) return;
    socket.raprCoalesced = true;
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
    let pending: Buffer[] = [];
    let bytes = 0;
    let scheduled = false;
    const flush = () => {
      const chunks = pending, size = bytes;
      scheduled = false;
      pending = [];
      bytes = 0;
      if (chunks.length && !socket.destroyed) write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    socket.write = ((chunk: string | Buffer) => {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      pending.push(b);
      bytes += b.length;
      if (bytes >= WRITE_NOW_BYTES) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
      return true;
    }) as Socket["write"];
  });
}

/** A second connection to the same server, for commands that block (XREAD BLOCK). */
export async function blockingConnection(client: RedisConnection): Promise<RedisConnection> {
  const dup: RedisConnection = client instanceof Cluster ? client.duplicate() : client.duplicate({ commandTimeout: undefined, enableAutoPipelining: false });
  dup.on("error", () => {});
  if (dup.status === "wait") await dup.connect();
  return dup;
}

/** Closes a connection: QUIT when it answers in time, else drops it. */
export async function closeRedis(client: RedisConnection): Promise<void> {
  const quit = client.quit().catch(() => {});
  const timer = setTimeout(() => client.disconnect(), 1_000);
  await quit;
  clearTimeout(timer);
  client.disconnect();
}
