// The lock block through the compiled binary with the official Dapr JS SDK (HTTP and gRPC): three sidecars sharing a
// Redis or PostgreSQL lock store see exactly one holder, an expired lock is free again, unlock answers Dapr's
// statuses, the stored key is daprd's ("lock||{store}||{id}" under keyPrefix name); bad input is 400 /
// INVALID_ARGUMENT; without --resources-path the embedded `lockstore` (lock.sqlite) serves and metadata lists it.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommunicationProtocolEnum, type DaprClient } from "@dapr/dapr";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import postgres from "postgres";
import { Dapr } from "../../src/gen/dapr/proto/runtime/v1/dapr_pb.js";
import { sdkClient } from "../support/dapr-sdk.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { waitFor } from "../support/ports.js";
import { grpcError } from "../support/grpc-error.js";
import { componentYaml } from "../support/components.js";
import { missing, PG_URL, REDIS_HOST } from "../support/backends.js";
import { uniqueTable } from "../support/postgres.js";

setDefaultTimeout(90_000);

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const { HTTP, GRPC } = CommunicationProtocolEnum;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

function resourcesDir(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-lock-"));
  writeFileSync(join(dir, "lock.yaml"), yaml);
  return dir;
}

async function sidecars(n: number, dir: string): Promise<Sidecar[]> {
  const out: Sidecar[] = [];
  for (let i = 0; i < n; i++) {
    const sc = await startSidecar({ appId: `lock-${RUN}-${i}`, args: ["--resources-path", dir] });
    cleanups.push(() => sc.stop());
    out.push(sc);
  }
  return out;
}

const backends = [
  {
    name: "lock.redis",
    skip: await missing("redis"),
    metadata: () => ({ redisHost: REDIS_HOST, keyPrefix: "name" }),
    /** The key daprd would use, and whether it is in the backend now. */
    async held(resourceId: string): Promise<boolean> {
      const redis = new Redis(`redis://${REDIS_HOST}`);
      try {
        return (await redis.exists(`lock||locks||${resourceId}`)) === 1;
      } finally {
        redis.disconnect();
      }
    },
  },
  {
    name: "lock.postgresql",
    skip: await missing("postgres"),
    table: uniqueTable("lock_sdk"),
    metadata() {
      return { connectionString: PG_URL, tableName: this.table, keyPrefix: "name" };
    },
    async held(resourceId: string): Promise<boolean> {
      const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
      try {
        const rows = await sql.unsafe(`SELECT 1 FROM "${this.table}" WHERE resource_id = $1 AND expires_at > now()`, [`lock||locks||${resourceId}`]);
        return rows.length === 1;
      } finally {
        await sql.end({ timeout: 2 });
      }
    },
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip)(`${backend.name} through three sidecars`, () => {
    let clients: DaprClient[] = [];

    test("start three sidecars on one lock store", async () => {
      const scs = await sidecars(3, resourcesDir(componentYaml("locks", backend.name, backend.metadata())));
      clients = scs.flatMap((sc) => [sdkClient(sc, HTTP), sdkClient(sc, GRPC)]);
      if ("table" in backend) {
        cleanups.push(async () => {
          const sql = postgres(PG_URL, { onnotice: () => {}, max: 1 });
          await sql.unsafe(`DROP TABLE IF EXISTS "${backend.table}"`).finally(() => sql.end({ timeout: 2 }));
        });
      }
    });

    test("contention: of six callers (HTTP and gRPC on each sidecar) exactly one holds the lock", async () => {
      const resource = `order-${RUN}`;
      const results = await Promise.all(clients.map((c, i) => c.lock.lock("locks", resource, `owner-${i}`, 30)));
      const winners = results.flatMap((r, i) => (r.success ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await backend.held(resource)).toBe(true);

      const holder = winners[0]!;
      const other = (holder + 1) % clients.length;
      // No re-entry, as daprd: the holder itself is refused while it holds the lock.
      expect((await clients[holder]!.lock.lock("locks", resource, `owner-${holder}`, 30)).success).toBe(false);
      expect((await clients[other]!.lock.unlock("locks", resource, `owner-${other}`)).status).toBe(2); // LOCK_BELONGS_TO_OTHERS
      expect((await clients[other]!.lock.unlock("locks", resource, `owner-${holder}`)).status).toBe(0); // SUCCESS, from any sidecar
      expect(await backend.held(resource)).toBe(false);
      expect((await clients[holder]!.lock.unlock("locks", resource, `owner-${holder}`)).status).toBe(1); // LOCK_DOES_NOT_EXIST
      expect((await clients[other]!.lock.lock("locks", resource, `owner-${other}`, 30)).success).toBe(true);
      expect((await clients[other]!.lock.unlock("locks", resource, `owner-${other}`)).status).toBe(0);
    });

    test("an expired lock is free for another sidecar", async () => {
      const resource = `lease-${RUN}`;
      expect((await clients[0]!.lock.lock("locks", resource, "first", 1)).success).toBe(true);
      expect((await clients[5]!.lock.lock("locks", resource, "second", 30)).success).toBe(false);
      await waitFor(async () => (await clients[5]!.lock.lock("locks", resource, "second", 30)).success, "the expired lock to be taken", 15_000, 250);
      expect((await clients[0]!.lock.unlock("locks", resource, "first")).status).toBe(2);
      expect((await clients[5]!.lock.unlock("locks", resource, "second")).status).toBe(0);
    });
  });
}

describe("the embedded lockstore and bad input", () => {
  let sc: Sidecar;
  const post = (path: string, body: string) => sc.http(path, { method: "POST", body, headers: { "content-type": "application/json" } });

  test("without --resources-path: lockstore (lock.sqlite) is listed and locks over HTTP and gRPC", async () => {
    sc = await startSidecar({ appId: `lock-default-${RUN}` });
    cleanups.push(() => sc.stop());
    const md = (await (await sc.http("/v1.0/metadata")).json()) as { components: { name: string; type: string; capabilities: string[] }[] };
    expect(md.components).toContainEqual({ name: "lockstore", type: "lock.sqlite", version: "v1", capabilities: [] } as never);
    const [http, grpc] = [sdkClient(sc, HTTP), sdkClient(sc, GRPC)];
    expect((await http.lock.lock("lockstore", "r", "a", 30)).success).toBe(true);
    expect((await grpc.lock.lock("lockstore", "r", "b", 30)).success).toBe(false);
    expect((await grpc.lock.unlock("lockstore", "r", "a")).status).toBe(0);
    // protojson's snake_case names and a string int32 are accepted, as daprd.
    const res = await post("/v1.0-alpha1/lock/lockstore", JSON.stringify({ resource_id: "s", lock_owner: "o", expiry_in_seconds: "5" }));
    expect(await res.json()).toEqual({ success: true });
  });

  test("bad input is 400 ERR_MALFORMED_REQUEST or ERR_LOCK_STORE_NOT_FOUND over HTTP, INVALID_ARGUMENT over gRPC", async () => {
    const cases: [string, string, number, string, string][] = [
      ["/v1.0-alpha1/lock/lockstore", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":0}`, 400, "ERR_MALFORMED_REQUEST", "ExpiryInSeconds is not positive in lock store lockstore"],
      ["/v1.0-alpha1/lock/lockstore", `{"resourceId":"","lockOwner":"o","expiryInSeconds":5}`, 400, "ERR_MALFORMED_REQUEST", "ResourceId is empty in lock store lockstore"],
      ["/v1.0-alpha1/unlock/lockstore", `{"resourceId":"r","lockOwner":""}`, 400, "ERR_MALFORMED_REQUEST", "LockOwner is empty in lock store lockstore"],
      ["/v1.0-alpha1/lock/nope", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":5}`, 400, "ERR_LOCK_STORE_NOT_FOUND", "lock store nope not found"],
      ["/v1.0-alpha1/lock/lockstore", `{"resourceId":"r","lockOwner":"o","expiryInSeconds":1.5}`, 400, "ERR_MALFORMED_REQUEST", "32-bit integer"],
      ["/v1.0-alpha1/lock/lockstore", `{"resourceId":7,"lockOwner":"o","expiryInSeconds":5}`, 400, "ERR_MALFORMED_REQUEST", "must be a string"],
      ["/v1.0-alpha1/lock/lockstore", `not json`, 400, "ERR_MALFORMED_REQUEST", "JSON"],
      ["/v1.0-alpha1/unlock/lockstore", `[]`, 400, "ERR_MALFORMED_REQUEST", "JSON object"],
      ["/v1.0-alpha1/lock/lockstore", `{"resourceId":"a||b","lockOwner":"o","expiryInSeconds":5}`, 500, "ERR_TRY_LOCK", "can't contain '||'"],
    ];
    for (const [path, body, status, errorCode, message] of cases) {
      const res = await post(path, body);
      const got = (await res.json()) as { errorCode: string; message: string };
      expect({ path, body, status: res.status, errorCode: got.errorCode }).toEqual({ path, body, status, errorCode });
      expect(got.message).toContain(message);
    }
    const dapr = createClient(Dapr, createGrpcTransport({ baseUrl: `http://127.0.0.1:${sc.grpcPort}` }));
    const zero = await grpcError(() => dapr.tryLockAlpha1({ storeName: "lockstore", resourceId: "r", lockOwner: "o", expiryInSeconds: 0 }));
    expect(zero.code).toBe(Code.InvalidArgument);
    const unknown = await grpcError(() => dapr.unlockAlpha1({ storeName: "nope", resourceId: "r", lockOwner: "o" }));
    expect([unknown.code, unknown.rawMessage]).toEqual([Code.InvalidArgument, "lock store nope not found"]);
    // The sidecar still serves after all of it.
    expect((await dapr.tryLockAlpha1({ storeName: "lockstore", resourceId: "after", lockOwner: "o", expiryInSeconds: 5 })).success).toBe(true);
  });
});
