// Starts the compiled rapr binary (dist/rapr) as a real process for integration tests.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killMarked, MARKER_VAR, newMarker } from "./leftovers.js";
import { freePort, GiveUp, waitFor } from "./ports.js";

/** RAPR_BIN in the environment swaps in another executable (e.g. a wrapper that runs src/main.ts under a profiler). */
export const RAPR_BIN = process.env.RAPR_BIN || join(import.meta.dir, "..", "..", "dist", "rapr");

export interface SidecarOptions {
  appId?: string;
  args?: string[];
  env?: Record<string, string>;
  dataDir?: string;
  appCommand?: string[];
  waitReady?: boolean;
  /** Another rapr executable than dist/rapr (e.g. a copy in an empty dir). */
  bin?: string;
  cwd?: string;
  /** Use env as the whole environment instead of adding it to this process's. */
  replaceEnv?: boolean;
}

export interface Sidecar {
  appId: string;
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  http(path: string, init?: RequestInit): Promise<Response>;
  output(): Promise<string>;
  stop(): Promise<number>;
}

/** The same-host registry of the sidecars this test process starts: theirs alone, so that concurrent test runs on the
 * machine neither resolve each other's app ids nor share actor types. */
const TEST_REGISTRY_DIR = process.env.RAPR_REGISTRY_DIR || join(tmpdir(), `rapr-test-registry-${process.pid}`);

export async function startSidecar(opts: SidecarOptions = {}): Promise<Sidecar> {
  const appId = opts.appId ?? `app${Math.random().toString(36).slice(2, 8)}`;
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "rapr-test-"));
  const args = [
    "run", "--app-id", appId,
    "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(grpcPort),
    "--data-dir", dataDir, "--log-level", "warn",
    ...(opts.args ?? []),
    ...(opts.appCommand ? ["--", ...opts.appCommand] : []),
  ];
  const marker = newMarker();
  const proc = Bun.spawn([opts.bin ?? RAPR_BIN, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: opts.cwd,
    env: { ...(opts.replaceEnv ? opts.env : { ...process.env, RAPR_LOG_LEVEL: "", RAPR_REGISTRY_DIR: TEST_REGISTRY_DIR, ...opts.env }), [MARKER_VAR]: marker },
  });
  let outputText: Promise<string> | undefined;
  const output = () => (outputText ??= Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]).then(([o, e]) => o + e));
  const base = `http://127.0.0.1:${httpPort}`;
  const sidecar: Sidecar = {
    appId, httpPort, grpcPort, dataDir, proc,
    http: (path, init) => fetch(base + path, init),
    output,
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      killMarked(marker); // the app, when a test SIGKILLed rapr before (rapr's own stop never ran)
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
  if (opts.waitReady !== false) {
    try {
      await waitFor(async () => {
        if (proc.exitCode !== null) throw new GiveUp(`rapr exited with ${proc.exitCode}: ${await output()}`);
        // /healthz also waits for the app's port (as daprd's does); tests that start their app after the sidecar
        // take /healthz/outbound, which is ready before the app.
        const ok = async (path: string) => (await fetch(base + path)).status === 204;
        return (await ok("/v1.0/healthz")) || (await ok("/v1.0/healthz/outbound"));
      }, `rapr ${appId} to become healthy`, 15_000);
    } catch (err) {
      proc.kill("SIGKILL");
      await proc.exited;
      killMarked(marker);
      throw err;
    }
  }
  return sidecar;
}
