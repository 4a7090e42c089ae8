// Launches the user's app (the command after `--`) with the environment Dapr SDKs look for.
//
// The app runs in a process group of its own (Bun.spawn's `detached`: setsid), and stopping it signals the whole group,
// as the dapr CLI does: `npm run start` or `sh -c 'node index.js'` leave the real app a grandchild of rapr, which a
// signal to the direct child alone would leave running, re-parented to PID 1 and holding its port. With an AppOutput
// (`rapr run -f` writes per-app log files) the app's stdout and stderr go to a file, with or without the console.
import type { Subprocess } from "bun";
import type { Logger } from "../observability/logger.js";
import { outputSink } from "./output-sink.js";
import type { AppOutput } from "../runtime/config.js";


export interface LaunchOptions {
  command: string[];
  env: Record<string, string>;
  logger: Logger;
  output?: AppOutput;
}

/** How often the group is looked at after its leader exited, while members may still be finishing. */
const GROUP_POLL_MS = 50;

export class AppProcess {
  private constructor(private readonly proc: Subprocess, readonly exited: Promise<number>) {}

  static launch(opts: LaunchOptions): AppProcess {
    const sink = outputSink(opts.output);
    let proc: Subprocess;
    try {
      proc = Bun.spawn(opts.command, {
        env: { ...process.env, ...opts.env },
        stdio: ["inherit", sink.stdio, sink.stdio],
        detached: true,
      });
    } catch (err) {
      sink.close();
      throw new Error(`cannot start app command "${opts.command.join(" ")}": ${err instanceof Error ? err.message : err}`);
    }
    // The output ends when the group's last writer does, which may outlive the app's first process.
    sink.pump(proc).catch(() => {}).finally(() => sink.close());
    opts.logger.info("app started", { pid: proc.pid, command: opts.command.join(" ") });
    const exited = proc.exited.then((code) => code ?? (proc.signalCode ? 128 + signalNumber(String(proc.signalCode)) : 1));
    return new AppProcess(proc, exited);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** SIGKILL to the app's whole group now (rapr is exiting at once and must not leave the app behind). */
  kill(): void {
    signalGroup(this.proc.pid, "SIGKILL");
  }

  /**
   * SIGTERM to the app's group, then SIGKILL to what is left of it after the grace period; resolves with the exit
   * code of the app's first process. Also after that process exited by itself: its children may still run.
   */
  async stop(graceMs: number): Promise<number> {
    const deadline = performance.now() + graceMs;
    if (!signalGroup(this.proc.pid, "SIGTERM")) return this.exited;
    const timer = setTimeout(() => signalGroup(this.proc.pid, "SIGKILL"), graceMs);
    try {
      const code = await this.exited;
      while (groupAlive(this.proc.pid) && performance.now() < deadline) await Bun.sleep(GROUP_POLL_MS);
      signalGroup(this.proc.pid, "SIGKILL");
      return code;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Signals every process of the group led by `pgid`; false when the group is gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0 as unknown as NodeJS.Signals);
}

function signalNumber(sig: string): number {
  return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig] ?? 1;
}
