// The jobs API through the compiled binary: HTTP schedule/get/list/delete, delivery to an HTTP app as POST
// /job/{name}, repeats, durability across a restart (same data dir, the default sqlite store), daprd's errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar } from "../support/sidecar.js";

const received: { name: string; body: string }[] = [];
let app: Server<unknown>;
let appPort: number;
const started: Sidecar[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  appPort = await freePort();
  app = Bun.serve({
    port: appPort,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method === "POST" && path.startsWith("/job/")) received.push({ name: decodeURIComponent(path.slice(5)), body: await req.text() });
      return new Response(null, { status: 200 });
    },
  });
});

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()));
  app?.stop(true);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function sidecar(dataDir?: string): Promise<Sidecar> {
  const sc = await startSidecar({ appId: "jobsapp", dataDir, args: ["--app-port", String(appPort), "--enable-metrics=false"] });
  started.push(sc);
  return sc;
}

const firesOf = (name: string) => received.filter((r) => r.name === name);
const schedule = (sc: Sidecar, name: string, body: unknown) =>
  sc.http(`/v1.0-alpha1/jobs/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("jobs API over HTTP", () => {
  let sc: Sidecar;
  beforeAll(async () => {
    sc = await sidecar();
  });

  test("a job with dueTime 1s is delivered once as POST /job/{name} with its data", async () => {
    const res = await schedule(sc, "once", { dueTime: "1s", data: { hello: "world" } });
    expect(res.status).toBe(204);
    await waitFor(() => firesOf("once").length >= 1, "the job fired");
    expect(JSON.parse(firesOf("once")[0]!.body)).toEqual({ hello: "world" });
    await sleep(1500);
    expect(firesOf("once").length).toBe(1);
    expect((await sc.http("/v1.0-alpha1/jobs/once")).status).toBe(404);
  }, 20_000);

  test("@every 1s with repeats 3 fires exactly 3 times", async () => {
    expect((await schedule(sc, "thrice", { schedule: "@every 1s", repeats: 3, data: "x" })).status).toBe(204);
    await waitFor(() => firesOf("thrice").length >= 3, "three fires", 15_000);
    await sleep(2500);
    expect(firesOf("thrice").length).toBe(3);
  }, 30_000);

  test("get, list and delete", async () => {
    expect((await schedule(sc, "later", { schedule: "0 0 0 1 1 *", data: { n: 1 } })).status).toBe(204);
    const got = await sc.http("/v1.0-alpha1/jobs/later");
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ name: "later", schedule: "0 0 0 1 1 *", data: { n: 1 } });
    const list = (await (await sc.http("/v1.0-alpha1/jobs")).json()) as { jobs: { name: string }[] };
    expect(list.jobs.map((j) => j.name)).toContain("later");
    expect((await sc.http("/v1.0-alpha1/jobs/later", { method: "DELETE" })).status).toBe(204);
    expect((await sc.http("/v1.0-alpha1/jobs/later")).status).toBe(404);
  });

  test("a malformed schedule is a 400 with daprd's code", async () => {
    const res = await schedule(sc, "bad", { schedule: "every now and then" });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { errorCode: string; message: string };
    expect(body.errorCode).toBe("DAPR_SCHEDULER_SCHEDULE_JOB");
    expect(body.message).toContain("schedule");
    expect((await schedule(sc, "bad", {})).status).toBe(400);
    expect((await schedule(sc, "bad", { dueTime: "1s", name: "other" })).status).toBe(400);
    expect((await sc.http("/v1.0-alpha1/jobs/bad", { method: "POST", body: "{" })).status).toBe(400);
  });

  test("overwrite=false on an existing job is refused; overwrite=true replaces it", async () => {
    expect((await schedule(sc, "dup", { schedule: "@every 1h", data: 1 })).status).toBe(204);
    const again = await schedule(sc, "dup", { schedule: "@every 1h", data: 2 });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { errorCode: string }).errorCode).toBe("DAPR_SCHEDULER_SCHEDULE_JOB");
    expect((await schedule(sc, "dup", { schedule: "@every 1h", data: 3, overwrite: true })).status).toBe(204);
    expect(((await (await sc.http("/v1.0-alpha1/jobs/dup")).json()) as { data: number }).data).toBe(3);
  });
});

test("a job survives a sidecar restart and fires after it", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rapr-jobs-"));
  dirs.push(dataDir);
  const first = await sidecar(dataDir);
  expect((await schedule(first, "durable", { dueTime: "4s", data: { kept: true } })).status).toBe(204);
  await first.stop();
  expect(firesOf("durable").length).toBe(0);
  const second = await sidecar(dataDir);
  expect((await second.http("/v1.0-alpha1/jobs/durable")).status).toBe(200);
  await waitFor(() => firesOf("durable").length >= 1, "the job fired after the restart", 15_000);
  expect(JSON.parse(firesOf("durable")[0]!.body)).toEqual({ kept: true });
}, 40_000);
