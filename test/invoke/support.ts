// Shared setup for invocation tests: sidecars on one private name-resolution directory and one private CA,
// so tests never see other sidecars on this host; apps are small fixture scripts run by this Bun.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "../support/ports.js";
import { startSidecar, type Sidecar, type SidecarOptions } from "../support/sidecar.js";

export const FIXTURES = join(import.meta.dir, "..", "fixtures");

export interface Cluster {
  root: string;
  registryDir: string;
  caDir: string;
  sidecars: Sidecar[];
  start(opts: InvokeSidecarOptions): Promise<Sidecar & { appPort?: number }>;
  stopAll(): Promise<void>;
  /** Writes files into a fresh directory under root; returns its path. */
  dir(name: string, files: Record<string, string>): string;
}

export interface InvokeSidecarOptions extends SidecarOptions {
  appId: string;
  /** Fixture script name under test/fixtures, launched as the app. */
  app?: string;
  appProtocol?: "http" | "grpc";
}

export function newCluster(prefix: string): Cluster {
  const root = mkdtempSync(join(tmpdir(), `rapr-${prefix}-`));
  const registryDir = join(root, "registry");
  const caDir = join(root, "ca");
  const sidecars: Sidecar[] = [];
  return {
    root,
    registryDir,
    caDir,
    sidecars,
    async start(opts) {
      const appPort = opts.app ? await freePort() : undefined;
      const args = ["--mtls-ca-dir", caDir, "--enable-metrics=false", ...(opts.args ?? [])];
      if (appPort) args.push("--app-port", String(appPort), "--app-protocol", opts.appProtocol ?? "http");
      const sc = await startSidecar({
        ...opts,
        args,
        env: { RAPR_REGISTRY_DIR: registryDir, ...opts.env },
        appCommand: opts.app ? [process.execPath, join(FIXTURES, opts.app)] : undefined,
      });
      sidecars.push(sc);
      return Object.assign(sc, { appPort });
    },
    async stopAll() {
      await Promise.allSettled(sidecars.map((s) => s.stop()));
      rmSync(root, { recursive: true, force: true });
    },
    dir(name, files) {
      const d = join(root, name);
      mkdirSync(d, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
      return d;
    },
  };
}

export const uid = () => Math.random().toString(36).slice(2, 7);

/** Polls an invocation until the callee app answers with a status other than ERR_DIRECT_INVOKE's 500. */
export async function waitForApp(via: Sidecar, appId: string, method: string, init?: RequestInit): Promise<void> {
  await waitFor(async () => {
    const r = await via.http(`/v1.0/invoke/${appId}/method/${method}`, init);
    const text = await r.text();
    return r.status < 500 && !text.includes("ERR_DIRECT_INVOKE");
  }, `app ${appId} to answer ${method} through ${via.appId}`, 15_000, 50);
}
