// nameresolution.local: zero-configuration discovery between sidecars on one host. Each sidecar writes
// <dir>/<namespace>/<appId>.<pid>.json with its transport address and removes it on shutdown; entries of
// dead processes are ignored and swept. dir: metadata "dir", else $RAPR_REGISTRY_DIR, else
// $XDG_RUNTIME_DIR/rapr/apps, else /tmp/rapr-<uid>/apps.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { definePlugin } from "../../src/components/plugin.js";
import { field } from "../../src/components/metadata-schema.js";
import { DEFAULT_NAMESPACE, type NameResolver, type SelfRegistration } from "../../src/components/contracts/nameresolution.js";

export function defaultRegistryDir(): string {
  if (process.env.RAPR_REGISTRY_DIR) return process.env.RAPR_REGISTRY_DIR;
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, "rapr", "apps");
  return join(tmpdir(), `rapr-${process.getuid?.() ?? "user"}`, "apps");
}

/** Whether a process of this id runs (EPERM: it runs as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A name as it may appear in the registry's folder and file names. */
export const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, "_");

export class LocalDirectoryResolver implements NameResolver {
  private own?: string;
  private readonly cache = new Map<string, { at: number; addresses: string[] }>();

  constructor(private readonly dir: string, private readonly cacheMs = 1000) {}

  async register(self: SelfRegistration): Promise<void> {
    const nsDir = join(this.dir, safe(self.namespace));
    mkdirSync(nsDir, { recursive: true, mode: 0o700 });
    const file = join(nsDir, `${safe(self.appId)}.${self.pid}.json`);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...self, registeredAt: new Date().toISOString() }), { mode: 0o600 });
    renameSync(tmp, file);
    this.own = file;
  }

  async resolve(appId: string, namespace = DEFAULT_NAMESPACE): Promise<string[]> {
    const key = `${namespace}/${appId}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.cacheMs && hit.addresses.length) return hit.addresses;
    const nsDir = join(this.dir, safe(namespace));
    const prefix = `${safe(appId)}.`;
    let names: string[];
    try {
      names = readdirSync(nsDir);
    } catch {
      return [];
    }
    const found: { address: string; at: string }[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith(".json")) continue;
      const pid = Number(name.slice(prefix.length, -5));
      if (!Number.isInteger(pid)) continue;
      const path = join(nsDir, name);
      if (!pidAlive(pid)) {
        rmSync(path, { force: true });
        continue;
      }
      try {
        const entry = JSON.parse(readFileSync(path, "utf8")) as SelfRegistration & { registeredAt: string };
        if (entry.appId === appId) found.push({ address: entry.address, at: entry.registeredAt });
      } catch {
        // half-written or foreign file: skip
      }
    }
    const addresses = found.sort((a, b) => b.at.localeCompare(a.at)).map((f) => f.address);
    this.cache.set(key, { at: Date.now(), addresses });
    return addresses;
  }

  /** Drops a cached answer (after a failed call, so the next resolve re-reads the directory). */
  forget(appId: string, namespace = DEFAULT_NAMESPACE): void {
    this.cache.delete(`${namespace}/${appId}`);
  }

  async unregister(): Promise<void> {
    if (this.own) rmSync(this.own, { force: true });
    this.own = undefined;
  }

  async close(): Promise<void> {
    await this.unregister();
  }
}

export default definePlugin({
  type: "nameresolution.local",
  metadata: {
    dir: field.string(),
    cacheMs: field.int({ default: 1000, min: 0 }),
  },
  async create(md) {
    return new LocalDirectoryResolver(md.dir || defaultRegistryDir(), md.cacheMs);
  },
});
