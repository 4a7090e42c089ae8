// `rapr list` and `rapr stop`, as `dapr list` and `dapr stop`: the sidecars running on this machine, from their records.
import { parseFlags, UsageError, type FlagSpec } from "./flags.js";
import { runTemplatePath } from "./run-template.js";
import { isAlive, listSidecars, type SidecarRecord } from "./sidecar-registry.js";

export const listFlags: FlagSpec[] = [{ name: "output", type: "string", help: "table or json", default: "table", oneOf: ["table", "json"], aliases: ["o"] }];
export const stopFlags: FlagSpec[] = [
  { name: "app-id", type: "string", help: "stop the sidecar (and app) of this app id", aliases: ["a"] },
  { name: "run-file", type: "string", help: "stop every app started by `rapr run -f` with this template (file or folder)", aliases: ["f"] },
  { name: "timeout", type: "int", help: "seconds to wait for them to stop", default: 60, min: 1 },
];

/** How often `rapr stop` looks whether the processes it signalled are gone. */
const STOP_POLL_MS = 100;

export function list(args: string[]): string {
  const { values, rest } = parseFlags(listFlags, args, "list");
  if (rest.length) throw new UsageError(`rapr list takes no arguments (got "${rest[0]}")`);
  const now = Date.now();
  const rows = listSidecars().map((r) => ({
    appId: r.appId,
    httpPort: r.httpPort ?? 0,
    grpcPort: r.grpcPort ?? 0,
    appPort: r.appPort ?? 0,
    command: r.command,
    age: age(now - r.created),
    created: created(new Date(r.created)),
    pid: r.pid,
    cliPid: r.cliPid ?? 0,
    appPid: r.appPid ?? 0,
    runTemplatePath: r.runTemplatePath ?? "",
    appLogPath: r.appLogPath ?? "",
    daprdLogPath: r.daprdLogPath ?? "",
    unixDomainSocket: r.unixDomainSocket ?? "",
  }));
  if (values.output === "json") return JSON.stringify(rows, null, 2);
  if (rows.length === 0) return "No rapr sidecars found.";
  const header = ["APP ID", "HTTP PORT", "GRPC PORT", "APP PORT", "COMMAND", "AGE", "CREATED", "PID"];
  const table = [header, ...rows.map((r) => [r.appId, r.httpPort, r.grpcPort, r.appPort, r.command, r.age, r.created, r.pid].map(String))];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => "  " + row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** Signals the sidecars asked for and waits until they (and the `rapr run -f` behind them) are gone; the exit code. */
export async function stop(args: string[], out: (line: string) => void): Promise<number> {
  const { values, rest } = parseFlags(stopFlags, args, "stop");
  const appIds = [...rest, ...(values["app-id"] ? [values["app-id"] as string] : [])];
  const file = values["run-file"] as string | undefined;
  if (!file && appIds.length === 0) throw new UsageError("rapr stop needs --app-id <id> or -f <run template>");
  const running = listSidecars();
  const targets: SidecarRecord[] = [];
  /** Processes that must be gone for the stop to be done. */
  const pids = new Set<number>();
  const awaitGone = (r: SidecarRecord, withCli: boolean) => {
    targets.push(r);
    for (const pid of [r.pid, r.appPid, withCli ? r.cliPid : undefined]) if (pid) pids.add(pid);
  };
  let failed = false;
  if (file) {
    const path = runTemplatePath(file);
    const mine = running.filter((r) => r.runTemplatePath === path);
    if (mine.length === 0) {
      out(`rapr: no sidecars of run template ${path} are running`);
      failed = true;
    }
    // The `rapr run -f` process passes one SIGTERM to each of its sidecars; without it, each sidecar is signalled.
    const clis = new Set(mine.map((r) => r.cliPid).filter((pid): pid is number => isAlive(pid)));
    for (const pid of clis) process.kill(pid, "SIGTERM");
    for (const r of mine) if (!r.cliPid || !clis.has(r.cliPid)) signal(r.pid);
    for (const r of mine) awaitGone(r, true);
  }
  for (const id of appIds) {
    const mine = running.filter((r) => r.appId === id);
    if (mine.length === 0) {
      out(`rapr: no sidecar of app id ${id} is running`);
      failed = true;
    }
    for (const r of mine) {
      signal(r.pid);
      awaitGone(r, false); // a `rapr run -f` behind it goes on with its other apps
    }
  }
  const deadline = Date.now() + (values.timeout as number) * 1000;
  while ([...pids].some(isAlive) && Date.now() < deadline) await Bun.sleep(STOP_POLL_MS);
  const left = [...pids].filter(isAlive);
  if (left.length) {
    out(`rapr: still running after ${values.timeout} s: pid ${left.join(", ")}`);
    return 1;
  }
  for (const r of targets) out(`rapr: stopped ${r.appId}`);
  return failed ? 1 : 0;
}

function signal(pid: number): void {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    // gone already
  }
}

/** As the dapr CLI shows ages: the largest whole unit. */
function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** As the dapr CLI shows creation times: 2006-01-02 15:04.05, local time. */
function created(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}.${two(d.getSeconds())}`;
}
