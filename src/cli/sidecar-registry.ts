// Which sidecars run on this machine, for `rapr list` and `rapr stop`: each `rapr run` keeps a small JSON record in
// ~/.rapr/run while it runs (the dapr CLI finds its daprd processes and reads their metadata for the same purpose).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface SidecarRecord {
  appId: string;
  /** The `rapr run` process. */
  pid: number;
  httpPort?: number;
  grpcPort?: number;
  appPort?: number;
  unixDomainSocket?: string;
  command: string;
  /** The app's process (leader of its process group). */
  appPid?: number;
  /** The `rapr run -f` process that started this sidecar. */
  cliPid?: number;
  runTemplatePath?: string;
  appLogPath?: string;
  daprdLogPath?: string;
  /** Start time, ms since the epoch. */
  created: number;
  /** The process's start time as the kernel counts it (Linux), so a pid reused by another process is not taken for it. */
  pidStart?: string;
}

/** Set by `rapr run -f` for each sidecar it starts; read (and taken out of the app's environment) by `rapr run`. */
export const RUN_TEMPLATE_ENV = {
  cliPid: "RAPR_RUN_CLI_PID",
  path: "RAPR_RUN_TEMPLATE_PATH",
  appLog: "RAPR_RUN_APP_LOG",
  daprdLog: "RAPR_RUN_DAPRD_LOG",
  /** The file descriptor on which `rapr run -f`'s console reaches the sidecar (its own stdout may be a log file). */
  consoleFd: "RAPR_RUN_CONSOLE_FD",
} as const;

export function registryDir(): string {
  return join(homedir(), ".rapr", "run");
}

/** Records this sidecar; the returned function removes the record (also called at process exit). */
export function registerSidecar(record: SidecarRecord): () => void {
  const dir = registryDir();
  mkdirSync(dir, { recursive: true });
  listSidecars(); // sweeps the records of sidecars that were killed (kill -9) before they could remove theirs
  const file = join(dir, `${record.appId}.${record.pid}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify({ ...record, pidStart: processStart(record.pid) }));
  renameSync(`${file}.tmp`, file);
  const remove = () => rmSync(file, { force: true });
  process.once("exit", remove);
  return remove;
}

/** The sidecars still running; records left by one that died without cleaning up are removed. */
export function listSidecars(): SidecarRecord[] {
  const dir = registryDir();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const live: SidecarRecord[] = [];
  for (const name of names) {
    let record: SidecarRecord;
    try {
      record = JSON.parse(readFileSync(join(dir, name), "utf8"));
    } catch {
      continue; // being written or removed right now
    }
    if (isAlive(record.pid) && (record.pidStart === undefined || record.pidStart === processStart(record.pid))) live.push(record);
    else rmSync(join(dir, name), { force: true });
  }
  return live.sort((a, b) => a.created - b.created);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined where there is no /proc. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
