// Runs the compiled rapr as a command and collects how it ended: exit code, stdout, stderr.
import { RAPR_BIN } from "./sidecar.js";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `rapr ...args`; a run that outlives timeoutMs is killed and reported with code null. */
export async function runRapr(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; bin?: string } = {}): Promise<RunResult> {
  const proc = Bun.spawn([opts.bin ?? RAPR_BIN, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: opts.cwd,
    env: { ...process.env, RAPR_LOG_LEVEL: "", ...opts.env },
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, opts.timeoutMs ?? 15_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, stdout, stderr };
}
