// Service invocation benchmark: app A → sidecar A → sidecar B → app B, next to app A → app B direct, in one run.
//   bun bench/invoke.ts [--seconds 10] [--rate 1000] [--payload 1024] [--no-mtls] [--max-seconds 5] [--concurrency 32]
//                       [--coarse-pacing]
// Open-loop load at --rate requests/s on each path, the paths interleaved request by request (sends are paced
// by bench/pacer.ts whatever the answers do; latency is from the moment each request is sent to its full answer),
// then a closed-loop maximum-throughput run through the sidecar pair. Prints p50/p90/p99 of each path, the latency
// the sidecars add, the latency two bare TCP relay processes add (bench/tcp-relay.ts: the floor for two more
// processes on the path here), and each sidecar's CPU (fraction of one core, from /proc/<pid>/stat) and RSS.
// Needs dist/rapr (bun run build). Traffic stays on 127.0.0.1.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../test/support/ports.js";
import { startSidecar, type Sidecar } from "../test/support/sidecar.js";
import { flagNumber, hasFlag } from "./flags.js";
import { cpuSeconds, machineTicks, percentile, rssMb, stealShare } from "./measure.js";
import { paced } from "./pacer.js";

const seconds = flagNumber("seconds", 10);
const rate = flagNumber("rate", 1000);
const payloadBytes = flagNumber("payload", 1024);
const maxSeconds = flagNumber("max-seconds", 5);
const concurrency = flagNumber("concurrency", 32);
const mtls = !hasFlag("no-mtls");
const coarsePacing = hasFlag("coarse-pacing");

const payload = new Uint8Array(payloadBytes).fill(97);


/** Sends `rate` requests/s to each URL for `secs` seconds, the paths interleaved request by request so both see
 * the same moments of the machine (a shared, noisy one); latency per request in ms, per path. `--coarse-pacing`
 * paces with a 1 ms main-thread timer instead, as this bench did before bench/pacer.ts. */
async function openLoop(urls: string[], secs: number): Promise<{ lat: number[]; errors: number }[]> {
  const out = urls.map(() => ({ lat: [] as number[], errors: 0 }));
  const inflight: Promise<void>[] = [];
  const send = (n: number) => {
    for (let i = 0; i < urls.length; i++) {
      const k = (n + i) % urls.length; // alternate which path goes first
      const r = out[k]!;
      const t0 = performance.now();
      inflight.push(
        fetch(urls[k]!, { method: "POST", body: payload })
          .then(async (res) => {
            const b = await res.arrayBuffer();
            if (res.status !== 200 || b.byteLength !== payloadBytes) r.errors++;
            r.lat.push(performance.now() - t0);
          })
          .catch(() => void r.errors++),
      );
    }
  };
  const total = Math.round(rate * secs);
  await (coarsePacing ? coarselyPaced(total, send) : paced(rate, total, send));
  await Promise.all(inflight);
  for (const r of out) r.lat.sort((a, b) => a - b);
  return out;
}

function coarselyPaced(total: number, send: (n: number) => void): Promise<void> {
  let sent = 0;
  const start = performance.now();
  return new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) send(sent);
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
}

type Lat = { lat: number[]; errors: number };

/** One request at a time, the paths alternating: the bare per-request path cost, without queueing. */
async function sequential(urls: string[], n: number): Promise<number[][]> {
  const lat = urls.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < urls.length; k++) {
      const t0 = performance.now();
      const r = await fetch(urls[k]!, { method: "POST", body: payload });
      await r.arrayBuffer();
      lat[k]!.push(performance.now() - t0);
    }
  }
  return lat.map((l) => l.sort((a, b) => a - b));
}

async function closedLoop(url: string, secs: number): Promise<{ rps: number; errors: number }> {
  const end = performance.now() + secs * 1000;
  let done = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          const r = await fetch(url, { method: "POST", body: payload });
          await r.arrayBuffer();
          if (r.status === 200) done++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { rps: done / secs, errors };
}

const root = mkdtempSync(join(tmpdir(), "rapr-bench-invoke-"));
const env = { RAPR_REGISTRY_DIR: join(root, "registry") };
const common = ["--mtls-ca-dir", join(root, "ca"), "--enable-metrics=false", `--enable-mtls=${mtls}`];
const appPort = await freePort();
const app = Bun.spawn([process.execPath, join(import.meta.dir, "invoke-app.ts")], { env: { ...process.env, APP_PORT: String(appPort) }, stdout: "inherit", stderr: "inherit" });
// The floor: two bare TCP relays (bench/tcp-relay.ts) in place of the two sidecars.
const [relay1Port, relay2Port] = [await freePort(), await freePort()];
const relay = (port: number, target: number) =>
  Bun.spawn([process.execPath, join(import.meta.dir, "tcp-relay.ts")], { env: { ...process.env, RELAY_PORT: String(port), TARGET_PORT: String(target) }, stdout: "inherit", stderr: "inherit" });
const relays = [relay(relay2Port, appPort), relay(relay1Port, relay2Port)];
let a: Sidecar | undefined;
let b: Sidecar | undefined;
try {
  await waitFor(async () => (await fetch(`http://127.0.0.1:${appPort}/`)).ok, "bench app", 10_000);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${relay1Port}/`)).ok, "bench relays", 10_000);
  [a, b] = await Promise.all([
    startSidecar({ appId: "bench-a", args: common, env }),
    startSidecar({ appId: "bench-b", args: [...common, "--app-port", String(appPort)], env }),
  ]);
  const direct = `http://127.0.0.1:${appPort}/echo`;
  const via = `http://127.0.0.1:${a.httpPort}/v1.0/invoke/bench-b/method/echo`;
  await waitFor(async () => (await fetch(via, { method: "POST", body: payload })).status === 200, "invocation path", 10_000);
  const relayed = `http://127.0.0.1:${relay1Port}/echo`;
  await openLoop([direct, via, relayed], Math.min(2, seconds)); // warm-up (JIT)
  const t0 = performance.now();
  const machine0 = machineTicks();
  const ca0 = cpuSeconds(a.proc.pid);
  const cb0 = cpuSeconds(b.proc.pid);
  const [d, s] = (await openLoop([direct, via], seconds)) as [Lat, Lat];
  const elapsed = (performance.now() - t0) / 1000;
  const stolen = stealShare(machine0, machineTicks());
  const cpuA = (cpuSeconds(a.proc.pid) - ca0) / elapsed;
  const cpuB = (cpuSeconds(b.proc.pid) - cb0) / elapsed;
  const rssA = rssMb(a.proc.pid);
  const rssB = rssMb(b.proc.pid);
  // The floor under the same load: direct and the two bare relays, 1000 req/s each.
  const r0 = relays.map((p) => cpuSeconds(p.pid));
  const t1 = performance.now();
  const [d2, r] = (await openLoop([direct, relayed], seconds)) as [Lat, Lat];
  const relayCpu = relays.map((p, i) => (cpuSeconds(p.pid) - r0[i]!) / ((performance.now() - t1) / 1000));
  const [seqDirect, seqVia, seqRelayed] = (await sequential([direct, via, relayed], 3000)) as [number[], number[], number[]];
  const max = await closedLoop(via, maxSeconds);
  const maxDirect = await closedLoop(direct, Math.min(3, maxSeconds));

  const f = (x: number) => ` ${x.toFixed(3)}`.padStart(9);
  const row = (name: string, r: { lat: number[]; errors: number }) =>
    `${name.padEnd(28)}${f(percentile(r.lat, 50))}${f(percentile(r.lat, 90))}${f(percentile(r.lat, 99))}   n=${r.lat.length} errors=${r.errors}`;
  console.log(`\nrapr invoke bench: ${payloadBytes} B POST at ${rate} req/s on each path for ${seconds} s (paths interleaved${coarsePacing ? ", 1 ms timer pacing" : ""}), mTLS ${mtls ? "on" : "off"}, Bun ${Bun.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`CPU time stolen by the hypervisor during the sidecar phase: ${(stolen * 100).toFixed(1)}%${stolen > 0.02 ? " (a busy host: the latencies below are inflated; compare only runs with little steal)" : ""}`);
  console.log(`${"path".padEnd(28)}${"p50 ms".padStart(9)}${"p90 ms".padStart(9)}${"p99 ms".padStart(9)}`);
  console.log(row("A -> B direct", d));
  console.log(row("A -> sidecar -> sidecar -> B", s));
  const added = (name: string, over: number[], base: number[]) =>
    console.log(`${name.padEnd(28)}${f(percentile(over, 50) - percentile(base, 50))}${f(percentile(over, 90) - percentile(base, 90))}${f(percentile(over, 99) - percentile(base, 99))}`);
  added("added by the two sidecars", s.lat, d.lat);
  console.log(`the floor, in a second phase at the same rates:`);
  console.log(row("A -> B direct", d2));
  console.log(row("A -> relay -> relay -> B", r));
  added("added by two bare relays", r.lat, d2.lat);
  const seqRow = (name: string, l: number[]) => `${name.padEnd(28)}${f(percentile(l, 50))}${f(percentile(l, 90))}${f(percentile(l, 99))}`;
  console.log(`one request at a time (3000 each, alternating):`);
  console.log(seqRow("A -> B direct", seqDirect));
  console.log(seqRow("A -> sidecar -> sidecar -> B", seqVia));
  console.log(seqRow("A -> relay -> relay -> B", seqRelayed));
  added("added by the two sidecars", seqVia, seqDirect);
  added("added by two bare relays", seqRelayed, seqDirect);
  console.log(`sidecar A: ${cpuA.toFixed(3)} core, RSS ${rssA.toFixed(1)} MB | sidecar B: ${cpuB.toFixed(3)} core, RSS ${rssB.toFixed(1)} MB (at ${rate} req/s)`);
  console.log(`bare relays: ${relayCpu.map((c) => c.toFixed(3)).join(" and ")} core (at ${rate} req/s)`);
  console.log(`max throughput through one sidecar pair: ${max.rps.toFixed(0)} req/s (closed loop, ${concurrency} in flight, ${maxSeconds} s, errors=${max.errors}); direct: ${maxDirect.rps.toFixed(0)} req/s`);
  console.log(`(load generator, both sidecars and the app share this machine's ${navigator.hardwareConcurrency} cores)`);
} finally {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  app.kill();
  for (const p of relays) p.kill();
  rmSync(root, { recursive: true, force: true });
}
