// Cluster formation: N compiled rapr nodes started at once with the documented flags (--cluster,
// --cluster-secret, --cluster-bootstrap <local testnet>), each asked for its member list every poll
// interval; time from spawn until every node sees all N alive. Rounds, each bounded, every process killed.
//   bun bench/cluster-formation.ts [--nodes 3,10] [--rounds 20] [--load 0,2] [--round-timeout-ms 40000]
//                                  [--poll-ms 100] [--keep-logs]
// --load 2 runs two busy CPU loops beside the nodes. Prints time to a full view p50/p99 per (nodes, load).
import "../src/cluster/udx/register.js";
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/ports.js";
import { RAPR_BIN } from "../test/support/sidecar.js";
import { flagNumber, flagText, hasFlag } from "./flags.js";
import { percentile } from "./measure.js";

export interface Testnet {
  bootstrap: string;
  destroy(): Promise<void>;
}

/** A local hyperswarm DHT (`size` nodes on 127.0.0.1) to bootstrap from. */
export async function startTestnet(size = 3): Promise<Testnet> {
  const createTestnet = require("@hyperswarm/testnet");
  const net = await createTestnet(size, { host: "127.0.0.1" });
  return {
    bootstrap: net.bootstrap.map((b: { host: string; port: number }) => `${b.host}:${b.port}`).join(","),
    destroy: () => net.destroy(),
  };
}

export interface RoundResult {
  /** ms from spawn until every node saw all nodes alive; undefined when the round timed out. */
  formedMs?: number;
  /** ms from spawn until the last node's HTTP API answered (process start-up and scrypt, not formation). */
  apiUpMs?: number;
  /** Per node, how many alive members it saw last. */
  lastView: number[];
  /** Lines of the nodes' logs that mention a dropped or rejected swarm connection. */
  droppedConnections: number;
  logs: string[];
}

export interface RoundOptions {
  bin?: string;
  nodes: number;
  bootstrap: string;
  timeoutMs: number;
  pollMs?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

interface Node {
  proc: Subprocess<"ignore", "ignore", "pipe">;
  httpPort: number;
  dataDir: string;
}

/** Alive members in the node's view, or undefined while its API does not answer. */
async function aliveCount(node: Node): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/v1.0-alpha1/cluster/members`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { members?: Array<{ state: string }> };
    return (body.members ?? []).filter((m) => m.state === "alive").length;
  } catch {
    return undefined;
  }
}

/** One round: a fresh cluster name, N nodes spawned at once, polled until all see N alive or the round times out. */
export async function formationRound(opts: RoundOptions): Promise<RoundResult> {
  const cluster = `bench-${Math.random().toString(36).slice(2, 10)}`;
  const nodes: Node[] = [];
  const pollMs = opts.pollMs ?? 100;
  try {
    for (let i = 0; i < opts.nodes; i++) {
      const httpPort = await freePort();
      const grpcPort = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), "rapr-formation-"));
      nodes.push({ httpPort, dataDir, proc: undefined as never });
      const args = [
        "run", "--app-id", `${cluster}-${i}`, "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(grpcPort),
        "--metrics-port", "0", "--data-dir", dataDir, "--log-level", process.env.BENCH_LOG_LEVEL ?? "warn",
        "--cluster", cluster, "--cluster-secret", "formation-bench-secret", "--cluster-bootstrap", opts.bootstrap,
        ...(opts.extraArgs ?? []),
      ];
      nodes[i]!.proc = Bun.spawn([opts.bin ?? RAPR_BIN, ...args], {
        stdin: "ignore", stdout: "ignore", stderr: "pipe",
        env: { ...process.env, RAPR_LOG_LEVEL: "", ...opts.env },
      });
    }
    const started = performance.now();
    let lastView: number[] = nodes.map(() => 0);
    const upMs: Array<number | undefined> = nodes.map(() => undefined);
    let formedMs: number | undefined;
    while (performance.now() - started < opts.timeoutMs) {
      const views = await Promise.all(nodes.map(aliveCount));
      views.forEach((v, i) => v !== undefined && (upMs[i] ??= performance.now() - started));
      lastView = views.map((v) => v ?? 0);
      if (lastView.every((n) => n === opts.nodes)) {
        formedMs = performance.now() - started;
        break;
      }
      await Bun.sleep(pollMs);
    }
    const apiUpMs = upMs.every((t) => t !== undefined) ? Math.max(...(upMs as number[])) : undefined;
    return { formedMs, apiUpMs, lastView, ...(await stopAll(nodes)) };
  } finally {
    for (const n of nodes) {
      n.proc?.kill("SIGKILL");
      rmSync(n.dataDir, { recursive: true, force: true });
    }
  }
}

async function stopAll(nodes: Node[]): Promise<{ droppedConnections: number; logs: string[] }> {
  for (const n of nodes) n.proc.kill("SIGKILL");
  const logs = await Promise.all(nodes.map(async (n) => (await n.proc.exited, await new Response(n.proc.stderr).text())));
  const droppedConnections = logs.join("\n").split("\n").filter((l) => /admission|without the cluster secret/.test(l)).length;
  return { droppedConnections, logs };
}

/** Busy CPU loops beside the nodes, as other work on the machine would be. */
export function busyLoops(count: number): { stop(): Promise<void> } {
  const procs = Array.from({ length: count }, () =>
    Bun.spawn([process.execPath, "-e", "for(;;){}"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }),
  );
  return {
    async stop() {
      for (const p of procs) p.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
    },
  };
}

async function main(): Promise<void> {
  const sizes = (flagText("nodes") ?? "3,10").split(",").map(Number);
  const loads = (flagText("load") ?? "0,2").split(",").map(Number);
  const rounds = flagNumber("rounds", 20);
  const timeoutMs = flagNumber("round-timeout-ms", 40_000);
  const pollMs = flagNumber("poll-ms", 100);
  const extraArgs = (flagText("args") ?? "").split(" ").filter(Boolean);
  const testnet = await startTestnet(flagNumber("testnet-size", 3));
  console.log(`cluster formation: ${rounds} rounds per case, bootstrap ${testnet.bootstrap}, ${navigator.hardwareConcurrency} cpus, ` +
    `load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`);
  try {
    for (const nodes of sizes) {
      for (const load of loads) {
        const loadBefore = (await Bun.file("/proc/loadavg").text()).split(" ")[0];
        const loops = busyLoops(load);
        const times: number[] = [];
        const afterUp: number[] = [];
        const missed: string[] = [];
        let dropped = 0;
        try {
          for (let r = 0; r < rounds; r++) {
            const res = await formationRound({ nodes, bootstrap: testnet.bootstrap, timeoutMs, pollMs, extraArgs });
            dropped += res.droppedConnections;
            if (res.formedMs === undefined) missed.push(res.lastView.join(" "));
            else times.push(res.formedMs);
            if (res.formedMs !== undefined && res.apiUpMs !== undefined) afterUp.push(res.formedMs - res.apiUpMs);
            if (hasFlag("verbose")) console.log(`  round ${r + 1}: ${res.formedMs === undefined ? `missed (${res.lastView.join(" ")})` : `${(res.formedMs / 1000).toFixed(2)} s`}` +
              `, last API up at ${res.apiUpMs === undefined ? "-" : `${(res.apiUpMs / 1000).toFixed(2)} s`}, dropped ${res.droppedConnections}`);
            if (hasFlag("keep-logs") && (res.formedMs === undefined || res.droppedConnections > 0)) console.log(res.logs.join("\n----\n"));
          }
        } finally {
          await loops.stop();
        }
        const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
        console.log(`${nodes} nodes, ${load} busy loops: formed ${times.length}/${rounds}` +
          (times.length ? `, full view p50 ${s(percentile(times, 50))} p99 ${s(percentile(times, 99))} max ${s(Math.max(...times))}` : "") +
          (afterUp.length ? `; after the last node's API answered p50 ${s(percentile(afterUp, 50))} p99 ${s(percentile(afterUp, 99))}` : "") +
          `, dropped-connection log lines ${dropped}` + (missed.length ? `, missed views: ${missed.map((v) => `[${v}]`).join(" ")}` : "") +
          ` (load average ${loadBefore} before, ${(await Bun.file("/proc/loadavg").text()).split(" ")[0]} after)`);
      }
    }
  } finally {
    await testnet.destroy();
  }
}

if (import.meta.main) await main();
