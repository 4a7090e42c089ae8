// What the benches read off their runs: percentiles of samples, and a process's CPU time and memory from /proc.
import { readFileSync } from "node:fs";

const CLK_TCK = 100;

/** The p-th percentile (0–100) of the values (any order); NaN when there are none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU seconds (user + system) a process has used so far, exited threads included; 10 ms resolution. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident memory of a process, in MB. */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

/** The machine's CPU time so far, from /proc/stat: all of it, and the part a hypervisor gave to other guests (steal). */
export function machineTicks(): { total: number; steal: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  return { total: fields.slice(0, 8).reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

/** Which share of the machine's CPU time between two readings was stolen by the hypervisor (0–1). */
export function stealShare(from: { total: number; steal: number }, to: { total: number; steal: number }): number {
  const total = to.total - from.total;
  return total > 0 ? (to.steal - from.steal) / total : 0;
}
