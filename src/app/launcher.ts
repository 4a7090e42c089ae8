// Launches the user's app (the command after `--`) with the environment Dapr SDKs look for.
import type { Subprocess } from "bun";
import type { Logger } from "../observability/logger.js";

export interface LaunchOptions {
  command: string[];
  env: Record<string, string>;
  logger: Logger;
}

export class AppProcess {
  private constructor(private readonly proc: Subprocess, readonly exited: Promise<number>) {}

  static launch(opts: LaunchOptions): AppProcess {
    let proc: Subprocess;
    try {
      proc = Bun.spawn(opts.command, {
        env: { ...process.env, ...opts.env },
        stdio: ["inherit", "inherit", "inherit"],
      });
    } catch (err) {
      throw new Error(`cannot start app command "${opts.command.join(" ")}": ${err instanceof Error ? err.message : err}`);
    }
    opts.logger.info("app started", { pid: proc.pid, command: opts.command.join(" ") });
    const exited = proc.exited.then((code) => code ?? (proc.signalCode ? 128 + signalNumber(String(proc.signalCode)) : 1));
    return new AppProcess(proc, exited);
  }

  /** SIGKILL now (rapr is exiting at once and must not leave the app behind). */
  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(graceMs: number): Promise<number> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function signalNumber(sig: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig] ?? 1;
}
