// Pub/sub numbers, every ratio from one run on this machine:
//   1. publish throughput and publish->app delivery latency through rapr on NATS JetStream, next to the raw
//      @nats-io client doing the same (JetStream publish with ack, durable pull consumer with explicit acks);
//      the same on Redis Streams (pubsub.redis) next to raw ioredis (XADD; XREADGROUP of up to 100, XACK);
//   2. fan-out to N outside subscribers (WebSockets) on one node: one event -> all delivered, time to deliver to
//      all (p50/p99 over events), the node's RSS and CPU while holding them, and the largest count reached.
// Usage: bun bench/pubsub.ts [--messages 20000] [--latency-messages 2000] [--concurrency 64] [--rounds 3] [--brokers nats,redis]
//                            [--subscribers 10000] [--events 20] [--ramp 20000] [--client-procs 2] [--skip-throughput] [--skip-fanout]
// Bounded: every phase stops at its count or its time limit (--phase-seconds, default 60).
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Redis } from "ioredis";
import { signSubscriberToken } from "../src/blocks/pubsub/outside/tokens.js";
import { startSidecar, type Sidecar } from "../test/support/sidecar.js";
import { freePort, waitFor } from "../test/support/ports.js";
import type { Subprocess } from "bun";
import { componentYaml } from "../test/support/components.js";
import { REDIS_HOST } from "../test/support/backends.js";
import { flagNumber, flagText, hasFlag } from "./flags.js";
import { cpuSeconds, percentile, rssMb } from "./measure.js";

const MESSAGES = flagNumber("messages", 20_000);
const LATENCY_MESSAGES = flagNumber("latency-messages", 2_000);
const CONCURRENCY = flagNumber("concurrency", 64);
const SUBSCRIBERS = flagNumber("subscribers", 10_000);
const EVENTS = flagNumber("events", 20);
const RAMP = flagNumber("ramp", 0);
const PHASE_MS = flagNumber("phase-seconds", 60) * 1000;
const ROUNDS = flagNumber("rounds", 3);
const CLIENT_PROCS = flagNumber("client-procs", 2);
const NATS_URL = process.env.RAPR_BENCH_NATS ?? "127.0.0.1:4222";
const BROKERS = (flagText("brokers") ?? "nats,redis").split(",");
type Broker = "nats" | "redis";
const RUN = `b${Date.now().toString(36)}`;
const STREAM_PREFIX = `raprbench-${RUN}-`;
const enc = new TextEncoder();

const f2 = (n: number) => n.toFixed(2);
const payload = (seq: number) => JSON.stringify({ seq, t0: performance.now(), pad: "x".repeat(100) });

/** Runs fn for i in [0, n) with `c` in flight; stops early at the deadline. Returns how many ran. */
async function pool(n: number, c: number, deadline: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < n && Date.now() < deadline) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(c, n) }, worker));
  return next;
}

interface Result {
  /** Publishes/s to a topic without subscribers: the publish path alone. */
  unsubscribedPerSec: number;
  publishPerSec: number;
  deliveredPerSec: number;
  /** Sidecar CPU time per message in the throughput phase (publish + delivery), microseconds. */
  sidecarCpuUsPerMsg?: number;
  p50: number;
  p99: number;
}

async function waitCount(get: () => number, n: number, deadline: number) {
  while (get() < n && Date.now() < deadline) await Bun.sleep(5);
}

// ---------- 1a. raw @nats-io ----------
interface Subject {
  /** The sidecar's pid, when there is one: its CPU per message is reported. */
  pid?: number;
  publish(i: number): Promise<void>;
  /** Publishes to a topic nobody subscribes to (publish throughput alone); absent for the floor. */
  publishUnsubscribed?(i: number): Promise<void>;
  delivered(): number;
  latencies: number[];
  close(): Promise<void>;
}

async function rawNats(): Promise<Subject> {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const subject = `${STREAM_PREFIX}raw`;
  const stream = `${STREAM_PREFIX}raw`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  await jsm.consumers.add(stream, { durable_name: "bench", ack_policy: AckPolicy.Explicit, max_ack_pending: 1000 });
  await jsm.streams.add({ name: `${stream}-unsubscribed`, subjects: [`${subject}-unsubscribed`] });
  const consumer = await js.consumers.get(stream, "bench");
  const messages = await consumer.consume({ max_messages: 1000 });
  let delivered = 0;
  const subj: Subject = {
    publish: (i) => js.publish(subject, enc.encode(payload(i))).then(() => {}),
    publishUnsubscribed: (i) => js.publish(`${subject}-unsubscribed`, enc.encode(payload(i))).then(() => {}),
    delivered: () => delivered,
    latencies: [],
    async close() {
      await messages.close();
      await jsm.streams.delete(stream);
      await jsm.streams.delete(`${stream}-unsubscribed`);
      await nc.close();
    },
  };
  void (async () => {
    for await (const m of messages) {
      const { t0 } = JSON.parse(new TextDecoder().decode(m.data));
      subj.latencies.push(performance.now() - t0);
      delivered++;
      m.ack();
    }
  })();
  return subj;
}

// ---------- 1a'. raw ioredis on Redis Streams ----------
async function rawRedis(): Promise<Subject> {
  const pub = new Redis(`redis://${REDIS_HOST}`, { enableAutoPipelining: true });
  const reader = new Redis(`redis://${REDIS_HOST}`);
  const stream = `${STREAM_PREFIX}raw`;
  await pub.xgroup("CREATE", stream, "bench", "$", "MKSTREAM");
  let delivered = 0;
  let open = true;
  const subj: Subject = {
    publish: (i) => pub.xadd(stream, "*", "data", payload(i)).then(() => {}),
    publishUnsubscribed: (i) => pub.xadd(`${stream}-unsubscribed`, "*", "data", payload(i)).then(() => {}),
    delivered: () => delivered,
    latencies: [],
    async close() {
      open = false;
      reader.disconnect();
      await deleteRedisStreams();
      pub.disconnect();
    },
  };
  void (async () => {
    while (open) {
      const res = await reader.xreadgroupBuffer("GROUP", "bench", "c", "COUNT", 100, "BLOCK", 1000, "STREAMS", stream, ">").catch(() => null);
      const ids: Buffer[] = [];
      for (const [, entries] of (res ?? []) as [Buffer, [Buffer, Buffer[]][]][]) {
        for (const [id, fields] of entries) {
          subj.latencies.push(performance.now() - JSON.parse(fields[1].toString()).t0);
          delivered++;
          ids.push(id);
        }
      }
      if (ids.length) await pub.xack(stream, "bench", ...ids);
    }
  })();
  return subj;
}

async function deleteRedisStreams() {
  const redis = new Redis(`redis://${REDIS_HOST}`);
  const keys = await redis.keys(`${STREAM_PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
}

/** Throughput phase (CONCURRENCY in flight), then a latency phase (one at a time). */
async function measure(x: Subject): Promise<Result> {
  await pool(200, 8, Date.now() + PHASE_MS, (i) => x.publish(i)); // warm-up
  await waitCount(x.delivered, 200, Date.now() + PHASE_MS);
  const base = x.delivered();
  const cpu0 = x.pid ? cpuSeconds(x.pid) : 0;
  const t0 = performance.now();
  const sent = await pool(MESSAGES, CONCURRENCY, Date.now() + PHASE_MS, (i) => x.publish(i));
  const publishMs = performance.now() - t0;
  await waitCount(x.delivered, base + sent, Date.now() + PHASE_MS);
  const deliverMs = performance.now() - t0;
  const deliveredInPhase = x.delivered() - base;
  const sidecarCpuUsPerMsg = x.pid ? ((cpuSeconds(x.pid) - cpu0) * 1e6) / Math.max(1, sent) : undefined;
  await Bun.sleep(200);
  x.latencies.length = 0;
  const before = x.delivered();
  const latSent = await pool(LATENCY_MESSAGES, 1, Date.now() + PHASE_MS, async (i) => {
    await x.publish(MESSAGES + i);
    await waitCount(x.delivered, before + i + 1, Date.now() + 5_000);
  });
  const l = x.latencies.slice(0, latSent);
  let unsubscribedPerSec = NaN;
  if (x.publishUnsubscribed) {
    await pool(200, 8, Date.now() + PHASE_MS, (i) => x.publishUnsubscribed!(i)); // warm-up, creates the stream
    const u0 = performance.now();
    const n = await pool(MESSAGES, CONCURRENCY, Date.now() + PHASE_MS, (i) => x.publishUnsubscribed!(i));
    unsubscribedPerSec = (n / (performance.now() - u0)) * 1000;
  }
  return { unsubscribedPerSec, publishPerSec: (sent / publishMs) * 1000, deliveredPerSec: (deliveredInPhase / deliverMs) * 1000, p50: percentile(l, 50), p99: percentile(l, 99), sidecarCpuUsPerMsg };
}

// ---------- 1b. through rapr ----------
function brokerResources(broker: Broker = "nats"): string {
  const dir = mkdtempSync(join(tmpdir(), "rapr-bench-"));
  const yaml = broker === "redis"
    // Dapr's default concurrency (10 messages at the app at once) would cap delivery far below the raw reader's 100.
    ? componentYaml("pubsub", "pubsub.redis", { redisHost: REDIS_HOST, concurrency: "100" })
    : componentYaml("pubsub", "pubsub.nats", { natsURL: NATS_URL, streamPrefix: STREAM_PREFIX });
  writeFileSync(join(dir, "pubsub.yaml"), yaml);
  return dir;
}

/**
 * Publish over HTTP to a process in the middle, which delivers to an HTTP app in this process: rapr itself, or
 * the floor (bench/pubsub-relay.ts, the least any such process does).
 */
async function throughMiddle(kind: "rapr" | "floor", broker: Broker = "nats"): Promise<Subject> {
  const appPort = await freePort();
  let delivered = 0;
  // pubsub.redis names a topic's stream after the topic itself: the run's prefix keeps runs apart.
  const topic = broker === "redis" ? `${STREAM_PREFIX}rapr` : "rapr";
  const latencies: number[] = [];
  const app = Bun.serve({
    port: appPort,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/dapr/subscribe") return Response.json([{ pubsubname: "pubsub", topic, route: "/in" }]);
      const body = (await req.json()) as { data?: { t0: number }; t0?: number };
      subj.latencies.push(performance.now() - (body.data?.t0 ?? body.t0!));
      delivered++;
      return Response.json({ status: "SUCCESS" });
    },
  });
  let stop: () => Promise<unknown>;
  let pid: number;
  let port: number;
  const res = brokerResources(broker);
  if (kind === "rapr") {
    const sc = await startSidecar({ appId: `bench-${RUN}`, args: ["--app-port", String(appPort), "--resources-path", res, "--log-level", "error"] });
    for (let i = 0; i < 200; i++) {
      const meta = (await (await sc.http("/v1.0/metadata")).json()) as { subscriptions: unknown[] };
      if (meta.subscriptions.length) break;
      await Bun.sleep(50);
    }
    [stop, pid, port] = [() => sc.stop(), sc.proc.pid, sc.httpPort];
  } else {
    port = await freePort();
    const relay = Bun.spawn([process.execPath, ...(process.env.RAPR_BENCH_FLOOR_ARGS ?? "").split(" ").filter(Boolean), join(import.meta.dir, "pubsub-relay.ts")], {
      env: { ...process.env, PORT: String(port), APP_PORT: String(appPort), APP_ROUTE: "/in", NATS_URL, STREAM: `${STREAM_PREFIX}floor`, TOPIC: `${STREAM_PREFIX}floor` },
      stdout: "inherit",
      stderr: "inherit",
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok, "bench/pubsub-relay.ts", 15_000);
    [stop, pid] = [async () => (relay.kill(), await relay.exited), relay.pid];
  }
  const url = `http://127.0.0.1:${port}/v1.0/publish/pubsub/${topic}`;
  const subj: Subject = {
    pid,
    async publish(i) {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: payload(i) });
      if (r.status !== 204) throw new Error(`publish answered ${r.status}`);
    },
    publishUnsubscribed: kind === "floor" ? undefined : async (i) => {
      const r = await fetch(`${url}-unsubscribed`, { method: "POST", headers: { "content-type": "application/json" }, body: payload(i) });
      if (r.status !== 204) throw new Error(`publish answered ${r.status}`);
    },
    delivered: () => delivered,
    latencies,
    async close() {
      await stop();
      app.stop(true);
      rmSync(res, { recursive: true, force: true });
      if (broker === "redis") return deleteRedisStreams();
      const nc = await connect({ servers: NATS_URL });
      const jsm = await jetstreamManager(nc);
      for await (const s of jsm.streams.list()) if (s.config.name.startsWith(STREAM_PREFIX)) await jsm.streams.delete(s.config.name);
      await nc.close();
    },
  };
  return subj;
}

// ---------- 2. fan-out to outside subscribers ----------
const procStats = (pid: number) => ({ rssMb: rssMb(pid), cpuSeconds: cpuSeconds(pid) });

interface FanoutResult {
  connected: number;
  allDeliveredMs: number[];
  perClientP50: number;
  perClientP99: number;
  rssIdleMb: number;
  rssHoldingMb: number;
  cpuHoldingPct: number;
  cpuPublishingPct: number;
  missing: number;
  nodeLoopMs: number[];
}

/** Reads a child's JSON lines. */
function lines(proc: Subprocess<"pipe", "pipe", "inherit">, onLine: (v: any) => void) {
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += new TextDecoder().decode(chunk);
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("{")) onLine(JSON.parse(line));
      }
    }
  })();
}

async function fanout(sc: Sidecar, n: number, secret: string, topic: string): Promise<FanoutResult> {
  const token = signSubscriberToken(secret, { sub: "bench", topics: [`pubsub/${topic}`] });
  const url = `ws://127.0.0.1:${sc.httpPort}/v1.0-rapr/subscribe/pubsub/${topic}?token=${token}`;
  const pid = sc.proc.pid;
  const idle = procStats(pid);
  // Subscribers live in CLIENT_PROCS child processes, so reading 10,000 sockets is not one JS thread's job.
  const per = Math.ceil(n / CLIENT_PROCS);
  const children = Array.from({ length: CLIENT_PROCS }, (_, i) =>
    Bun.spawn([process.execPath, join(import.meta.dir, "pubsub-fanout-client.ts"), url, String(Math.max(0, Math.min(per, n - i * per)))], { stdin: "pipe", stdout: "pipe", stderr: "inherit" }));
  let connected = 0;
  let readyCount = 0;
  const byEvent = new Map<number, number[]>();
  const reports = new Map<number, number>();
  for (const c of children) {
    lines(c, (v) => {
      if (v.ready !== undefined) {
        connected += v.ready;
        readyCount++;
      } else {
        byEvent.set(v.seq, [...(byEvent.get(v.seq) ?? []), ...v.arrivals]);
        reports.set(v.seq, (reports.get(v.seq) ?? 0) + 1);
      }
    });
  }
  const deadline = Date.now() + PHASE_MS * 2;
  while (readyCount < children.length && Date.now() < deadline) await Bun.sleep(50);
  await Bun.sleep(1000);
  const hold0 = procStats(pid);
  const holdStart = performance.now();
  await Bun.sleep(3000);
  const hold1 = procStats(pid);
  const holdSec = (performance.now() - holdStart) / 1000;
  const allDelivered: number[] = [];
  const perClient: number[] = [];
  const nodeLoop: number[] = [];
  let missing = 0;
  const pub0 = procStats(pid);
  const pubStart = performance.now();
  for (let e = 0; e < EVENTS && Date.now() < deadline + PHASE_MS; e++) {
    const t0 = performance.timeOrigin + performance.now();
    await fetch(`http://127.0.0.1:${sc.httpPort}/v1.0/publish/pubsub/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ seq: e, at: Date.now() }) });
    const until = Date.now() + 12_000;
    while ((reports.get(e) ?? 0) < children.length && Date.now() < until) await Bun.sleep(2);
    const arrivals = (byEvent.get(e) ?? []).map((a) => a - t0);
    const meta = (await (await sc.http("/v1.0/metadata")).json()) as { extended: Record<string, string> };
    nodeLoop.push(Number(meta.extended["rapr.outside.lastFanoutMs"]));
    missing += connected - arrivals.length;
    allDelivered.push(arrivals.length ? Math.max(...arrivals) : NaN);
    perClient.push(...arrivals);
    await Bun.sleep(200);
  }
  const pub1 = procStats(pid);
  const pubSec = (performance.now() - pubStart) / 1000;
  for (const c of children) {
    c.stdin.write("bye\n");
    c.stdin.end();
  }
  await Promise.all(children.map((c) => Promise.race([c.exited, Bun.sleep(5000).then(() => c.kill("SIGKILL"))])));
  return {
    connected,
    allDeliveredMs: allDelivered,
    perClientP50: percentile(perClient, 50),
    perClientP99: percentile(perClient, 99),
    rssIdleMb: idle.rssMb,
    rssHoldingMb: hold1.rssMb,
    cpuHoldingPct: ((hold1.cpuSeconds - hold0.cpuSeconds) / holdSec) * 100,
    cpuPublishingPct: ((pub1.cpuSeconds - pub0.cpuSeconds) / pubSec) * 100,
    missing,
    nodeLoopMs: nodeLoop,
  };
}

async function fanoutBench() {
  const secret = "bench-secret-Zr8wT1qM";
  const res = brokerResources();
  const sc = await startSidecar({ appId: `fanout-${RUN}`, args: ["--resources-path", res, "--subscriber-token-secret", secret, "--log-level", "error"] });
  try {
    const counts = [SUBSCRIBERS, ...(RAMP > SUBSCRIBERS ? [RAMP] : [])];
    let largest = 0;
    for (const [i, n] of counts.entries()) {
      const r = await fanout(sc, n, secret, `fan${i}`);
      largest = Math.max(largest, r.connected);
      console.log(`\nfan-out: ${r.connected}/${n} WebSocket subscribers on one node (NATS broker, one broker subscription per topic), ${EVENTS} events`);
      console.log(`  time until all subscribers had an event: p50 ${f2(percentile(r.allDeliveredMs, 50))} ms, p99 ${f2(percentile(r.allDeliveredMs, 99))} ms, max ${f2(Math.max(...r.allDeliveredMs))} ms (target p99 <= 250 ms)`);
      console.log(`  the node's fan-out loop (hand the event to every socket): p50 ${f2(percentile(r.nodeLoopMs, 50))} ms, max ${f2(Math.max(...r.nodeLoopMs))} ms`);
      console.log(`  per-subscriber delivery latency: p50 ${f2(r.perClientP50)} ms, p99 ${f2(r.perClientP99)} ms; missing deliveries: ${r.missing}`);
      console.log(`  node RSS: ${f2(r.rssIdleMb)} MB before, ${f2(r.rssHoldingMb)} MB holding them; node CPU: ${f2(r.cpuHoldingPct)}% of a core holding, ${f2(r.cpuPublishingPct)}% while fanning out`);
      await Bun.sleep(1500);
    }
    console.log(`  largest count reached: ${largest}`);
  } finally {
    await sc.stop();
    rmSync(res, { recursive: true, force: true });
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) if (s.config.name.startsWith(STREAM_PREFIX)) await jsm.streams.delete(s.config.name);
    await nc.close();
  }
}

const openFiles = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"));
console.log(`bench/pubsub on ${navigator.hardwareConcurrency} cores; NATS at ${NATS_URL}; open files limit ${openFiles?.[1]} (hard ${openFiles?.[2]}): one node holds at most that many subscribers`);
if (!hasFlag("skip-throughput") && BROKERS.includes("nats")) {
  // Rounds alternate raw, rapr and the floor so all see the same background load; medians over rounds.
  const raw = await rawNats();
  const rapr = await throughMiddle("rapr");
  const floor = await throughMiddle("floor");
  type Row = { raw: Result; rapr: Result; floor: Result };
  const rows: Row[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) rows.push({ raw: await measure(raw), rapr: await measure(rapr), floor: await measure(floor) });
  } finally {
    await raw.close();
    await rapr.close();
    await floor.close();
  }
  const med = (f: (x: Row) => number) => percentile(rows.map(f), 50);
  console.log(`\npublish -> app on NATS JetStream: ${MESSAGES} messages at ${CONCURRENCY} in flight, then latency over ${LATENCY_MESSAGES} one at a time; medians of ${ROUNDS} alternating rounds`);
  for (const [i, row] of rows.entries()) {
    console.log(`  round ${i + 1}: raw publish ${row.raw.publishPerSec.toFixed(0)}/s p99 ${f2(row.raw.p99)} ms | rapr publish ${row.rapr.publishPerSec.toFixed(0)}/s delivered ${row.rapr.deliveredPerSec.toFixed(0)}/s p99 ${f2(row.rapr.p99)} ms | floor delivered ${row.floor.deliveredPerSec.toFixed(0)}/s p99 ${f2(row.floor.p99)} ms`);
  }
  const line = (name: string, k: keyof Row) =>
    console.log(`  ${name}: publish ${med((x) => x[k].publishPerSec).toFixed(0)}/s, delivered ${med((x) => x[k].deliveredPerSec).toFixed(0)}/s, latency p50 ${f2(med((x) => x[k].p50))} ms p99 ${f2(med((x) => x[k].p99))} ms`);
  line("raw @nats-io     ", "raw");
  line("through rapr     ", "rapr");
  line("through the floor", "floor");
  console.log(`  CPU per message in the middle process (publish in + delivery out): rapr ${med((x) => x.rapr.sidecarCpuUsPerMsg ?? NaN).toFixed(0)} µs, floor ${med((x) => x.floor.sidecarCpuUsPerMsg ?? NaN).toFixed(0)} µs`);
  console.log(`  ratio rapr/raw: publish ${f2(med((x) => x.rapr.publishPerSec / x.raw.publishPerSec))}x, delivered ${f2(med((x) => x.rapr.deliveredPerSec / x.raw.deliveredPerSec))}x (target >= 0.7x); added latency p50 ${f2(med((x) => x.rapr.p50 - x.raw.p50))} ms, p99 ${f2(med((x) => x.rapr.p99 - x.raw.p99))} ms (target p99 <= 1 ms)`);
  console.log(`  ratio floor/raw: delivered ${f2(med((x) => x.floor.deliveredPerSec / x.raw.deliveredPerSec))}x; added latency p50 ${f2(med((x) => x.floor.p50 - x.raw.p50))} ms, p99 ${f2(med((x) => x.floor.p99 - x.raw.p99))} ms`);
  console.log(`  ratio rapr/floor: delivered ${f2(med((x) => x.rapr.deliveredPerSec / x.floor.deliveredPerSec))}x`);
  console.log(`  publish alone (topic without subscribers, ${CONCURRENCY} in flight): raw ${med((x) => x.raw.unsubscribedPerSec).toFixed(0)}/s, rapr ${med((x) => x.rapr.unsubscribedPerSec).toFixed(0)}/s = ${f2(med((x) => x.rapr.unsubscribedPerSec / x.raw.unsubscribedPerSec))}x`);
}
if (!hasFlag("skip-throughput") && BROKERS.includes("redis")) {
  // No floor here: bench/pubsub-relay.ts speaks JetStream; its HTTP-in/HTTP-out cost does not depend on the broker.
  const raw = await rawRedis();
  const rapr = await throughMiddle("rapr", "redis");
  const rows: { raw: Result; rapr: Result }[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) rows.push({ raw: await measure(raw), rapr: await measure(rapr) });
  } finally {
    await raw.close();
    await rapr.close();
  }
  const med = (f: (x: (typeof rows)[number]) => number) => percentile(rows.map(f), 50);
  console.log(`\npublish -> app on Redis Streams (${REDIS_HOST}): ${MESSAGES} messages at ${CONCURRENCY} in flight, then latency over ${LATENCY_MESSAGES} one at a time; medians of ${ROUNDS} alternating rounds`);
  for (const k of ["raw", "rapr"] as const) {
    console.log(`  ${k === "raw" ? "raw ioredis " : "through rapr"}: publish ${med((x) => x[k].publishPerSec).toFixed(0)}/s, delivered ${med((x) => x[k].deliveredPerSec).toFixed(0)}/s, latency p50 ${f2(med((x) => x[k].p50))} ms p99 ${f2(med((x) => x[k].p99))} ms`);
  }
  console.log(`  CPU per message in rapr (publish in + delivery out): ${med((x) => x.rapr.sidecarCpuUsPerMsg ?? NaN).toFixed(0)} µs`);
  console.log(`  ratio rapr/raw: publish ${f2(med((x) => x.rapr.publishPerSec / x.raw.publishPerSec))}x, delivered ${f2(med((x) => x.rapr.deliveredPerSec / x.raw.deliveredPerSec))}x (target >= 0.7x); added latency p50 ${f2(med((x) => x.rapr.p50 - x.raw.p50))} ms, p99 ${f2(med((x) => x.rapr.p99 - x.raw.p99))} ms`);
  console.log(`  publish alone (topic without subscribers, ${CONCURRENCY} in flight): raw ${med((x) => x.raw.unsubscribedPerSec).toFixed(0)}/s, rapr ${med((x) => x.rapr.unsubscribedPerSec).toFixed(0)}/s = ${f2(med((x) => x.rapr.unsubscribedPerSec / x.raw.unsubscribedPerSec))}x`);
}
if (!hasFlag("skip-fanout")) await fanoutBench();
process.exit(0);
