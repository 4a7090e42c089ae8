// Every process a test sidecar starts (rapr, the app after `--`, the app's own children) carries a marker in its
// environment, so the harness can end all of them when the sidecar stops, also after a test SIGKILLed rapr and its
// app was re-parented to PID 1 (rapr's own clean-up never ran). Linux only (/proc); elsewhere nothing is found.
import { readdirSync, readFileSync } from "node:fs";

export const MARKER_VAR = "RAPR_TEST_SIDECAR";

/** Markers start with this test process's pid, so one run never touches another run's processes. */
const RUN_PREFIX = `${process.pid}-`;
let counter = 0;

export function newMarker(): string {
  return `${RUN_PREFIX}${++counter}`;
}

/** SIGKILLs every live process whose environment holds `MARKER_VAR=<marker>`; returns their pids. */
export function killMarked(marker: string): number[] {
  return killWhere((value) => value === marker);
}

/** SIGKILLs every process any sidecar of this test run started that is still running. */
export function killAllMarked(): number[] {
  return killWhere((value) => value.startsWith(RUN_PREFIX));
}

function killWhere(matches: (marker: string) => boolean): number[] {
  const killed: number[] = [];
  for (const pid of processIds()) {
    const marker = markerOf(pid);
    if (marker === undefined || !matches(marker)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // gone already
    }
  }
  return killed;
}

function processIds(): number[] {
  try {
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}

function markerOf(pid: number): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, "latin1");
  } catch {
    return undefined; // exited, or another user's
  }
  const prefix = `${MARKER_VAR}=`;
  for (const entry of environ.split("\0")) if (entry.startsWith(prefix)) return entry.slice(prefix.length);
  return undefined;
}
