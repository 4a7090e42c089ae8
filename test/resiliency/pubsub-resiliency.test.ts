// Resiliency on pub/sub components, through the compiled binary: an outbound retry policy carries a publish
// over a broker outage, and an inbound circuit breaker stops calling an app that keeps failing, each next to the
// same component without a policy. Under an inbound retry policy, a bulk delivery sends again only the entries
// the app failed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { componentYaml } from "../support/components.js";
import { PrivateNats } from "../support/private-nats.js";
import { missing } from "../support/backends.js";

const noNatsServer = await missing("nats-server");
const natsTest = test.skipIf(noNatsServer);

const RESILIENCY = `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: pubsub-policies
spec:
  policies:
    retries:
      patient:
        policy: constant
        duration: 200ms
        maxRetries: 40
      quick:
        policy: constant
        duration: 20ms
        maxRetries: 3
    circuitBreakers:
      stopAfterTwo:
        maxRequests: 1
        interval: 0s
        timeout: 60s
        trip: consecutiveFailures > 1
  targets:
    components:
      guarded:
        outbound:
          retry: patient
      mem-guarded:
        inbound:
          circuitBreaker: stopAfterTwo
      bulk-guarded:
        inbound:
          retry: quick
`;

let nats: PrivateNats;
let sidecar: Sidecar;
let dir: string;
const hits = { guarded: 0, plain: 0 };
/** Per bulk route: the event numbers of each bulk request the app received. */
const bulkRequests: Record<string, number[][]> = { "/bulk-guarded": [], "/bulk-plain": [] };
const seen = new Set<string>();
let app: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  if (noNatsServer) return;
  nats = await PrivateNats.start();
  const appPort = await freePort();
  app = Bun.serve({
    port: appPort,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/dapr/subscribe") {
        return Response.json([
          { pubsubname: "mem-guarded", topic: "orders", route: "/guarded" },
          { pubsubname: "mem-plain", topic: "orders", route: "/plain" },
          ...["guarded", "plain"].map((k) => ({ pubsubname: `bulk-${k}`, topic: "orders", route: `/bulk-${k}`, bulkSubscribe: { enabled: true, maxMessagesCount: 10, maxAwaitDurationMs: 100 } })),
        ]);
      }
      if (path in bulkRequests) {
        // The first time it sees an odd event, the app asks for it again.
        const { entries } = (await req.json()) as { entries: { entryId: string; event: { data: { n: number } } }[] };
        bulkRequests[path]!.push(entries.map((e) => e.event.data.n));
        const statuses = entries.map((e) => {
          const key = `${path} ${e.event.data.n}`;
          const again = e.event.data.n % 2 === 1 && !seen.has(key);
          seen.add(key);
          return { entryId: e.entryId, status: again ? "RETRY" : "SUCCESS" };
        });
        return Response.json({ statuses });
      }
      await req.arrayBuffer();
      if (path === "/guarded") hits.guarded++;
      if (path === "/plain") hits.plain++;
      return new Response("always failing", { status: 500 });
    },
  });
  dir = mkdtempSync(join(tmpdir(), "rapr-pubsub-res-"));
  const nats_ = { natsURL: nats.url, publishTimeout: "300ms", streamPrefix: "res-" };
  writeFileSync(join(dir, "guarded.yaml"), componentYaml("guarded", "pubsub.nats", nats_));
  writeFileSync(join(dir, "plain.yaml"), componentYaml("plain", "pubsub.nats", nats_));
  writeFileSync(join(dir, "mem-guarded.yaml"), componentYaml("mem-guarded", "pubsub.in-memory", { redeliveryInitialDelay: "50ms" }));
  writeFileSync(join(dir, "mem-plain.yaml"), componentYaml("mem-plain", "pubsub.in-memory", { redeliveryInitialDelay: "50ms" }));
  // Broker redelivery far beyond the test's reach: any second delivery seen here is the sidecar's.
  writeFileSync(join(dir, "bulk-guarded.yaml"), componentYaml("bulk-guarded", "pubsub.in-memory", { redeliveryInitialDelay: "60s" }));
  writeFileSync(join(dir, "bulk-plain.yaml"), componentYaml("bulk-plain", "pubsub.in-memory", { redeliveryInitialDelay: "60s" }));
  writeFileSync(join(dir, "resiliency.yaml"), RESILIENCY);
  sidecar = await startSidecar({ args: ["--app-port", String(appPort), "--resources-path", dir] });
}, 60_000);

afterAll(async () => {
  if (noNatsServer) return;
  await sidecar?.stop();
  app?.stop(true);
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const publish = (pubsub: string, topic = "orders") =>
  sidecar.http(`/v1.0/publish/${pubsub}/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"n":1}' });

natsTest("an outbound retry policy carries a publish over a broker outage; the same component without one fails", async () => {
  expect((await publish("guarded", "warmup")).status).toBe(204); // streams exist before the outage
  expect((await publish("plain", "warmup")).status).toBe(204);
  await nats.kill();
  const plain = await publish("plain", "warmup");
  expect(plain.status).toBe(500);
  expect(((await plain.json()) as { errorCode: string }).errorCode).toBe("ERR_PUBSUB_PUBLISH_MESSAGE");
  const guarded = publish("guarded", "warmup");
  await Bun.sleep(500);
  await nats.restart();
  expect((await guarded).status).toBe(204);
});

natsTest("an inbound circuit breaker stops calling an app that keeps failing; without it the broker keeps redelivering", async () => {
  expect((await publish("mem-guarded")).status).toBe(204);
  expect((await publish("mem-plain")).status).toBe(204);
  await waitFor(() => hits.plain >= 5, "redeliveries to the app without a policy", 20_000);
  expect(hits.guarded).toBe(2);
});

natsTest("under an inbound retry policy a bulk delivery sends again only the entries the app failed; without it they wait for the broker", async () => {
  for (const pubsub of ["bulk-guarded", "bulk-plain"]) {
    for (let n = 1; n <= 4; n++) {
      const res = await sidecar.http(`/v1.0/publish/${pubsub}/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ n }) });
      expect(res.status).toBe(204);
    }
  }
  const count = (path: string, n: number) => bulkRequests[path]!.flat().filter((x) => x === n).length;
  await waitFor(() => count("/bulk-guarded", 1) === 2 && count("/bulk-guarded", 3) === 2, "the sidecar's second attempt for the failed entries", 10_000);
  await Bun.sleep(300);
  expect([1, 2, 3, 4].map((n) => count("/bulk-guarded", n))).toEqual([2, 1, 2, 1]);
  // Every request after the first batch carried only failed (odd) entries.
  const retried = bulkRequests["/bulk-guarded"]!.filter((r) => r.every((n) => n % 2 === 1) && r.some((n) => count("/bulk-guarded", n) === 2));
  expect(retried.length).toBeGreaterThan(0);
  expect([1, 2, 3, 4].map((n) => count("/bulk-plain", n))).toEqual([1, 1, 1, 1]);
});
