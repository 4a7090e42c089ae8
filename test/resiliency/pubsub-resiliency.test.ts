// Resiliency on pub/sub components, through the compiled binary: an outbound retry policy carries a publish
// over a broker outage, and an inbound circuit breaker stops calling an app that keeps failing, each next to the
// same component without a policy.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSidecar, type Sidecar } from "../support/sidecar.js";
import { freePort, waitFor } from "../support/ports.js";
import { componentYaml } from "../support/components.js";
import { PrivateNats } from "../support/private-nats.js";

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
`;

let nats: PrivateNats;
let sidecar: Sidecar;
let dir: string;
const hits = { guarded: 0, plain: 0 };
let app: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
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
        ]);
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
  writeFileSync(join(dir, "resiliency.yaml"), RESILIENCY);
  sidecar = await startSidecar({ args: ["--app-port", String(appPort), "--resources-path", dir] });
}, 60_000);

afterAll(async () => {
  await sidecar?.stop();
  app?.stop(true);
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const publish = (pubsub: string, topic = "orders") =>
  sidecar.http(`/v1.0/publish/${pubsub}/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"n":1}' });

test("an outbound retry policy carries a publish over a broker outage; the same component without one fails", async () => {
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

test("an inbound circuit breaker stops calling an app that keeps failing; without it the broker keeps redelivering", async () => {
  expect((await publish("mem-guarded")).status).toBe(204);
  expect((await publish("mem-plain")).status).toBe(204);
  await waitFor(() => hits.plain >= 5, "redeliveries to the app without a policy", 20_000);
  expect(hits.guarded).toBe(2);
});
