// Where a sidecar pair spends its time, one request at a time: the CPU each middle process uses per request
// (all its threads, and its JS thread alone, from /proc) and the latency it adds over app A → app B direct.
// Paths are measured in alternation within each round, so all of them see the same moments of a noisy machine;
// use it to compare builds side by side:
//   bun bench/invoke-cpu.ts [--rounds 5] [--requests 3000] [--no-mtls] [--vs <executable>] [--args "<extra rapr flags>"]
// Always measured: dist/rapr (or $RAPR_BIN) and two bare TCP relays (bench/tcp-relay.ts, the floor). --vs adds a
// second rapr executable (e.g. a wrapper that runs another checkout's src/main.ts); --args adds flags to both.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../test/support/ports.js";
import { RAPR_BIN, startSidecar, type Sidecar } from "../test/support/sidecar.js";
import { flagNumber, flagText, hasFlag } from "./flags.js";
import { cpuSeconds, percentile } from "./measure.js";

const rounds = flagNumber("rounds", 5);
const requests = flagNumber("requests", 3000);
const mtls = !hasFlag("no-mtls");
const vs = flagText("vs");
const extraArgs = (flagText("args") ?? "").split(" ").filter(Boolean);
const payload = new Uint8Array(1024).fill(97);

interface Path {
  name: string;
  url: string;
  /** The two processes in the middle, caller's side first. */
  pids: number[];
}

/** CPU time of the whole process (exited threads included), in ns, at 10 ms resolution. */
const processNs = (pid: number) => cpuSeconds(pid) * 1e9;
/** CPU time of the main (JS) thread, in ns. */
function mainThreadNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]);
}

const root = mkdtempSync(join(tmpdir(), "rapr-bench-invoke-cpu-"));
const appPort = await freePort();
const app = Bun.spawn([process.execPath, join(import.meta.dir, "invoke-app.ts")], { env: { ...process.env, APP_PORT: String(appPort) } });
const relays: ReturnType<typeof Bun.spawn>[] = [];
const sidecars: Sidecar[] = [];
try {
  await waitFor(async () => (await fetch(`http://127.0.0.1:${appPort}/`)).ok, "bench app", 10_000);
  const paths: Path[] = [{ name: "direct", url: `http://127.0.0.1:${appPort}/echo`, pids: [] }];

  const builds = [{ name: "rapr", bin: RAPR_BIN }, ...(vs ? [{ name: "rapr --vs", bin: vs }] : [])];
  for (const [i, build] of builds.entries()) {
    const env = { RAPR_REGISTRY_DIR: join(root, `registry${i}`) };
    const args = ["--mtls-ca-dir", join(root, "ca"), "--enable-metrics=false", `--enable-mtls=${mtls}`, ...extraArgs];
    const [a, b] = await Promise.all([
      startSidecar({ appId: `cpu-a${i}`, args, env, bin: build.bin }),
      startSidecar({ appId: `cpu-b${i}`, args: [...args, "--app-port", String(appPort)], env, bin: build.bin }),
    ]);
    sidecars.push(a, b);
    const url = `http://127.0.0.1:${a.httpPort}/v1.0/invoke/cpu-b${i}/method/echo`;
    await waitFor(async () => (await fetch(url, { method: "POST", body: payload })).status === 200, build.name, 10_000);
    paths.push({ name: build.name, url, pids: [a.proc.pid, b.proc.pid] });
  }

  const [relay1, relay2] = [await freePort(), await freePort()];
  const relay = (port: number, target: number) =>
    Bun.spawn([process.execPath, join(import.meta.dir, "tcp-relay.ts")], { env: { ...process.env, RELAY_PORT: String(port), TARGET_PORT: String(target) } });
  relays.push(relay(relay2, appPort), relay(relay1, relay2));
  await waitFor(async () => (await fetch(`http://127.0.0.1:${relay1}/`)).ok, "bench relays", 10_000);
  paths.push({ name: "two bare relays", url: `http://127.0.0.1:${relay1}/echo`, pids: relays.map((r) => r.pid) });

  const seen = paths.map(() => ({ all: [[], []] as number[][], main: [[], []] as number[][], p50: [] as number[], p90: [] as number[] }));
  for (let round = 0; round <= rounds; round++) {
    const n = round === 0 ? Math.min(1500, requests) : requests; // round 0 warms the JIT up and is not counted
    const lat = paths.map(() => [] as number[]);
    const all0 = paths.map((p) => p.pids.map(processNs));
    const main0 = paths.map((p) => p.pids.map(mainThreadNs));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < paths.length; j++) {
        const k = (i + j) % paths.length; // rotate which path goes first
        const t0 = performance.now();
        const res = await fetch(paths[k]!.url, { method: "POST", body: payload });
        const body = await res.arrayBuffer();
        if (res.status !== 200 || body.byteLength !== payload.length) throw new Error(`${paths[k]!.name}: answer ${res.status} of ${body.byteLength} bytes`);
        lat[k]!.push(performance.now() - t0);
      }
    }
    if (round === 0) continue;
    for (let k = 1; k < paths.length; k++) {
      const s = seen[k]!;
      paths[k]!.pids.forEach((pid, side) => {
        s.all[side]!.push((processNs(pid) - all0[k]![side]!) / n / 1000);
        s.main[side]!.push((mainThreadNs(pid) - main0[k]![side]!) / n / 1000);
      });
      s.p50.push((percentile(lat[k]!, 50) - percentile(lat[0]!, 50)) * 1000);
      s.p90.push((percentile(lat[k]!, 90) - percentile(lat[0]!, 90)) * 1000);
    }
  }
  const us = (xs: number[]) => `${percentile(xs, 50).toFixed(0)}`.padStart(6);
  console.log(`\nper request, one at a time: medians of ${rounds} rounds of ${requests}, 1 KB POST, mTLS ${mtls ? "on" : "off"}${extraArgs.length ? `, ${extraArgs.join(" ")}` : ""}`);
  console.log(`${"path".padEnd(18)}${"CPU µs: caller's side".padStart(24)}${"callee's side".padStart(16)}${"JS thread A".padStart(13)}${"B".padStart(6)}${"added µs: p50".padStart(15)}${"p90".padStart(6)}`);
  for (let k = 1; k < paths.length; k++) {
    const s = seen[k]!;
    console.log(`${paths[k]!.name.padEnd(18)}${us(s.all[0]!).padStart(24)}${us(s.all[1]!).padStart(16)}${us(s.main[0]!).padStart(13)}${us(s.main[1]!)}${us(s.p50).padStart(15)}${us(s.p90)}`);
  }
} finally {
  await Promise.allSettled(sidecars.map((s) => s.stop()));
  app.kill();
  for (const r of relays) r.kill();
  rmSync(root, { recursive: true, force: true });
}
