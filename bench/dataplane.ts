// Data-plane benchmark: DPDK transport (net_memif between two processes) vs the kernel transport (TCP on
// loopback) between the same two processes. Bounded: each phase stops at a message count or a time limit.
//   bun bench/dataplane.ts [--seconds 0.5] [--rounds 3] [--concurrency 32] [--mtu 9000] [--yield-us 1000] [--nap-us 50]
//   (BENCH_SIZES=64,1024 picks sizes). Kernel and DPDK phases alternate for `rounds` rounds and each cell
//   reports the median round, so load from other processes on the machine skews both paths alike.
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDpdkTransport, type DpdkStats, type DpdkTransport } from "../src/transport/dpdk";
import { createKernelTransport } from "../src/transport/kernel";
import type { Transport } from "../src/transport/transport";
import { flagNumber } from "./flags.js";
import { percentile } from "./measure.js";

const SECONDS = flagNumber("seconds", 0.5);
const MTU = flagNumber("mtu", 9000);
const NAP_US = flagNumber("nap-us", 50);
const YIELD_US = flagNumber("yield-us", 1000);
const ROUNDS = flagNumber("rounds", 3);
const CONCURRENCY = flagNumber("concurrency", 32);
const LATENCY_SAMPLES = 5000;
const MAX_MESSAGES = 500_000;
const SIZES = (process.env.BENCH_SIZES ?? "64,1024,16384").split(",").map(Number);

const socket = join(tmpdir(), `rapr-bench-${process.pid}.sock`);
const base = ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--no-telemetry"];
const serverPrefix = `rapr-bench-s-${process.pid}`;
const clientPrefix = `rapr-bench-c-${process.pid}`;

const server = Bun.spawn(
  [
    process.execPath,
    join(import.meta.dir, "dataplane-server.ts"),
    JSON.stringify({
      ealArgs: [...base, `--file-prefix=${serverPrefix}`, `--vdev=net_memif0,role=server,socket=${socket},bsize=16384`],
      localIp: "10.88.0.1",
      mtu: MTU,
      maxNapUs: NAP_US,
      idleYieldUs: YIELD_US,
    }),
  ],
  { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
);
const reader = server.stdout.getReader();
const first = new TextDecoder().decode((await reader.read()).value ?? new Uint8Array());
const { kernelAddress, dpdkAddress, dpdkError } = JSON.parse(first.split("\n")[0]!) as {
  kernelAddress: string;
  dpdkAddress?: string;
  dpdkError?: string;
};

const kernel = createKernelTransport();
let dpdk: DpdkTransport | undefined;
if (dpdkAddress) {
  dpdk = await createDpdkTransport({
    ealArgs: [...base, `--file-prefix=${clientPrefix}`, `--vdev=net_memif0,role=client,socket=${socket},bsize=16384`],
    port: 0,
    localIp: "10.88.0.2",
    mtu: MTU,
    maxNapUs: NAP_US,
    idleYieldUs: YIELD_US,
    spinMs: 50,
  });
  const deadline = Date.now() + 10_000;
  while (!dpdk.linkUp() && Date.now() < deadline) await Bun.sleep(5);
} else {
  console.log(`DPDK unavailable, kernel path only: ${dpdkError}`);
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
async function serverCpu(t: Transport, address: string) {
  const res = await t.request(address, { kind: "bench", path: "cpu", headers: {}, body: new Uint8Array(0) });
  return Number(res.headers.cpu);
}

interface Result {
  msgsPerSec: number;
  p50: number;
  p99: number;
  cpuPerMsgUs: number;
  pktsPerTxCall?: number;
  pktsPerRxCall?: number;
}

async function run(t: Transport, address: string, size: number): Promise<Result> {
  const body = new Uint8Array(size).fill(7);
  const req = { kind: "bench", path: "echo", headers: {}, body };
  for (let i = 0; i < 100; i++) await t.request(address, req); // warm-up

  const rtts: number[] = [];
  const latencyEnd = performance.now() + SECONDS * 1000;
  while (rtts.length < LATENCY_SAMPLES && performance.now() < latencyEnd) {
    const start = performance.now();
    await t.request(address, req);
    rtts.push((performance.now() - start) * 1000);
  }
  rtts.sort((a, b) => a - b);

  const stats0: DpdkStats | undefined = t === dpdk ? dpdk.stats() : undefined;
  const cpu0 = cpuMicros() + (await serverCpu(t, address));
  let sent = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  const worker = async () => {
    while (sent < MAX_MESSAGES && performance.now() < end) {
      sent++;
      await t.request(address, req);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const cpu1 = cpuMicros() + (await serverCpu(t, address));
  const result: Result = {
    msgsPerSec: sent / elapsed,
    p50: percentile(rtts, 50),
    p99: percentile(rtts, 99),
    cpuPerMsgUs: (cpu1 - cpu0) / sent,
  };
  if (stats0 && dpdk) {
    const s = dpdk.stats();
    result.pktsPerTxCall = (s.txPackets - stats0.txPackets) / Math.max(1, s.txCalls - stats0.txCalls);
    result.pktsPerRxCall = (s.rxPackets - stats0.rxPackets) / Math.max(1, s.rxNonEmptyCalls - stats0.rxNonEmptyCalls);
  }
  return result;
}

const fmt = (n: number, d = 0) => n.toFixed(d).padStart(10);
console.log(
  `rapr data plane: median of ${ROUNDS} alternating rounds, ${SECONDS}s per phase; msgs/s with ${CONCURRENCY} concurrent requests; latency = sequential round trips (µs); DPDK over net_memif, MTU ${MTU}, yield ${YIELD_US} µs then naps ≤ ${NAP_US} µs when idle; load average ${(await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ")}`,
);
console.log(`${"size".padEnd(7)}${"path".padEnd(8)}${"msgs/s".padStart(10)}${"p50 µs".padStart(10)}${"p99 µs".padStart(10)}${"cpu µs/msg".padStart(12)}${"pkt/tx".padStart(8)}${"pkt/rx".padStart(8)}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function medianResult(rs: Result[]): Result {
  const pick = (f: (r: Result) => number | undefined) => {
    const xs = rs.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? median(xs) : undefined;
  };
  return {
    msgsPerSec: pick((r) => r.msgsPerSec)!,
    p50: pick((r) => r.p50)!,
    p99: pick((r) => r.p99)!,
    cpuPerMsgUs: pick((r) => r.cpuPerMsgUs)!,
    pktsPerTxCall: pick((r) => r.pktsPerTxCall),
    pktsPerRxCall: pick((r) => r.pktsPerRxCall),
  };
}
const row = (size: number, name: string, r: Result) =>
  console.log(
    `${String(size).padEnd(7)}${name.padEnd(8)}${fmt(r.msgsPerSec)}${fmt(r.p50, 1)}${fmt(r.p99, 1)}${fmt(r.cpuPerMsgUs, 2).padStart(12)}${(r.pktsPerTxCall?.toFixed(1) ?? "-").padStart(8)}${(r.pktsPerRxCall?.toFixed(1) ?? "-").padStart(8)}`,
  );
for (const size of SIZES) {
  const kernelRounds: Result[] = [];
  const dpdkRounds: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    kernelRounds.push(await run(kernel, kernelAddress, size));
    if (dpdk && dpdkAddress) dpdkRounds.push(await run(dpdk, dpdkAddress, size));
  }
  const k = medianResult(kernelRounds);
  row(size, "kernel", k);
  if (dpdkRounds.length) {
    const d = medianResult(dpdkRounds);
    row(size, "dpdk", d);
    console.log(
      `${"".padEnd(7)}${"ratio".padEnd(8)}${fmt(d.msgsPerSec / k.msgsPerSec, 2)}${fmt(d.p50 / k.p50, 2)}${fmt(d.p99 / k.p99, 2)}${fmt(d.cpuPerMsgUs / k.cpuPerMsgUs, 2).padStart(12)}   (dpdk / kernel)`,
    );
  }
}
if (dpdk && dpdkAddress) {
  console.log(`dpdk client: ${JSON.stringify(dpdk.stats())}`);
  const res = await dpdk.request(dpdkAddress, { kind: "bench", path: "stats", headers: {}, body: new Uint8Array(0) });
  console.log(`dpdk server: ${new TextDecoder().decode(res.body)}`);
}

await kernel.close();
await dpdk?.close();
server.stdin.end();
await Promise.race([server.exited, Bun.sleep(2000)]);
server.kill();
rmSync(socket, { force: true });
for (const p of [serverPrefix, clientPrefix]) rmSync(join("/var/run/dpdk", p), { recursive: true, force: true });
