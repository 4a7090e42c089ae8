// Start-up time of the compiled sidecar (spawn to first 204 from /v1.0/healthz) and its idle RSS (VmRSS from
// /proc/<pid>/status, read after it has sat idle), median of several runs, with the embedded defaults.
//   bun bench/startup.ts [--runs 7] [--idle-ms 1000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/ports.js";
import { RAPR_BIN } from "../test/support/sidecar.js";
import { flagNumber } from "./flags.js";
import { rssMb } from "./measure.js";

const RUNS = flagNumber("runs", 7);
const IDLE_MS = flagNumber("idle-ms", 1000);
const READY_BOUND_MS = 20_000;

async function oneRun(): Promise<{ readyMs: number; rssMiB: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), "rapr-startup-"));
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const started = performance.now();
  const proc = Bun.spawn([RAPR_BIN, "run", "--app-id", "startup", "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(grpcPort),
    "--metrics-port", "0", "--data-dir", dataDir, "--log-level", "error"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  try {
    let readyMs = -1;
    while (performance.now() - started < READY_BOUND_MS) {
      if (proc.exitCode !== null) throw new Error(`rapr exited with ${proc.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${httpPort}/v1.0/healthz`)).status === 204) {
          readyMs = performance.now() - started;
          break;
        }
      } catch {
        // not listening yet
      }
      await Bun.sleep(2);
    }
    if (readyMs < 0) throw new Error("rapr did not become healthy");
    await Bun.sleep(IDLE_MS);
    return { readyMs, rssMiB: rssMb(proc.pid) };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const runs = [];
for (let i = 0; i < RUNS; i++) runs.push(await oneRun());
const ready = runs.map((r) => r.readyMs);
const rss = runs.map((r) => r.rssMiB);
console.log(`rapr start-up (embedded defaults), ${RUNS} runs on ${navigator.hardwareConcurrency} cpus`);
console.log(`  time to healthy: median ${median(ready).toFixed(0)} ms (min ${Math.min(...ready).toFixed(0)}, max ${Math.max(...ready).toFixed(0)})`);
console.log(`  idle RSS after ${IDLE_MS} ms: median ${median(rss).toFixed(1)} MiB (min ${Math.min(...rss).toFixed(1)}, max ${Math.max(...rss).toFixed(1)})`);
