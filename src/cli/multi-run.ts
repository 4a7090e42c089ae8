// `rapr run -f <template>`: one `rapr run` per app of a Dapr run template, each app's output and sidecar log written
// to <appDirPath>/.dapr/logs as the dapr CLI writes them. SIGINT/SIGTERM stop every sidecar (each stops its app's
// process group); `rapr stop -f` finds this process through the sidecars' registry records.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { outputSink } from "../app/output-sink.js";
import { readRunTemplate, runTemplatePath, type TemplateApp } from "./run-template.js";
import { RUN_TEMPLATE_ENV } from "./sidecar-registry.js";

interface Started {
  app: TemplateApp;
  proc: Subprocess;
  exited: Promise<number>;
}

export async function runTemplate(given: string): Promise<number> {
  const path = runTemplatePath(given);
  const apps = readRunTemplate(path);
  const stamp = timestamp(new Date());
  const started: Started[] = [];
  let signals = 0;
  const stopAll = () => {
    signals++;
    // A second signal reaches each sidecar as its own second signal: it exits at once and kills its app.
    for (const s of started) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill("SIGTERM");
  };
  process.on("SIGINT", stopAll);
  process.on("SIGTERM", stopAll);
  try {
    for (const app of apps) {
      if (signals) break;
      started.push(startApp(app, path, stamp));
    }
    const codes = await Promise.all(started.map((s) => s.exited));
    return codes.every((c) => c === 0) || signals ? 0 : 1;
  } finally {
    process.off("SIGINT", stopAll);
    process.off("SIGTERM", stopAll);
  }
}

function startApp(app: TemplateApp, templatePath: string, stamp: string): Started {
  const logs = join(app.appDir, ".dapr", "logs");
  mkdirSync(logs, { recursive: true });
  const appLog = join(logs, `${app.appId}_app_${stamp}.log`);
  const daprdLog = join(logs, `${app.appId}_daprd_${stamp}.log`);
  const args = [...app.args, "--app-log-file", appLog, "--app-log-destination", app.appLogDestination];
  if (app.command.length) args.push("--", ...app.command);
  const sink = outputSink({ file: daprdLog, destination: app.daprdLogDestination });
  // Its own process group: a terminal's Ctrl-C reaches this process alone, which passes on exactly one SIGTERM.
  const proc = Bun.spawn([...selfCommand(), "run", ...args], {
    cwd: app.appDir,
    env: {
      ...process.env,
      ...app.env,
      [RUN_TEMPLATE_ENV.cliPid]: String(process.pid),
      [RUN_TEMPLATE_ENV.path]: templatePath,
      [RUN_TEMPLATE_ENV.appLog]: appLog,
      [RUN_TEMPLATE_ENV.daprdLog]: daprdLog,
      [RUN_TEMPLATE_ENV.consoleFd]: "3",
    },
    stdio: ["ignore", sink.stdio, sink.stdio, 1],
    detached: true,
  });
  sink.pump(proc).catch(() => {}).finally(() => sink.close());
  process.stdout.write(`rapr: started ${app.appId} (sidecar pid ${proc.pid}); app log ${appLog}, sidecar log ${daprdLog}\n`);
  const exited = proc.exited.then((code) => {
    process.stdout.write(`rapr: ${app.appId} exited with code ${code ?? proc.signalCode}\n`);
    return code ?? 1;
  });
  return { app, proc, exited };
}

/** How to start this same rapr again: the compiled executable, or bun with the entry script. */
export function selfCommand(): string[] {
  return Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main];
}

/** The dapr CLI's log file stamp: local time as YYYYMMDDHHMMSS. */
function timestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}
