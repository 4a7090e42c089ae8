// The Hosts adapter without --cluster: the same-host registry (nameresolution.local's directory). Each sidecar whose
// app hosts actor types writes <dir>/<namespace>/.actors/<hostId>.json ({id, address, pid, actorTypes}) and every
// sidecar polls that folder into a MemoryHosts. Entries of dead processes are ignored and swept, so a sidecar killed
// with -9 leaves the view at the next poll (or at once when a forward to it finds it unreachable).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pidAlive, safe } from "../../../../plugins/nameresolution.local/index.js";
import { MemoryHosts } from "./memory-hosts.js";
import type { HostInfo } from "./types.js";

const POLL_MS = 500;

interface Entry {
  id: string;
  address: string;
  pid: number;
  actorTypes: Record<string, number>;
}

/** This sidecar's host id: app id and process id, distinct for two sidecars of one app on one host. */
export function registryHostId(appId: string, pid = process.pid): string {
  return `${appId}.${pid}`;
}

export class RegistryHosts {
  readonly hosts = new MemoryHosts();
  private place: { folder: string; file: string; address: string } | undefined;
  private types: readonly string[] = [];
  private own: Entry | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private seen = "";

  constructor(private readonly registryDir: string, private readonly selfId: string, private readonly warn: (message: string) => void) {}

  /** Joins the registry of `namespace` with this sidecar's transport address, and polls it. */
  start(namespace: string, address: string): void {
    const folder = join(this.registryDir, safe(namespace), ".actors");
    this.place = { folder, file: join(folder, `${safe(this.selfId)}.json`), address };
    this.announce(this.types);
    this.timer ??= setInterval(() => this.refresh(), POLL_MS);
    this.timer.unref?.();
  }

  /** Writes (or, with no types, withdraws) this sidecar's entry, and updates the view. */
  announce(actorTypes: readonly string[]): void {
    this.types = actorTypes;
    const place = this.place;
    const address = place?.address ?? "";
    this.own = actorTypes.length ? { id: this.selfId, address, pid: process.pid, actorTypes: Object.fromEntries(actorTypes.map((t) => [t, 0])) } : undefined;
    try {
      if (place && this.own) {
        mkdirSync(place.folder, { recursive: true, mode: 0o700 });
        const tmp = `${place.file}.tmp`;
        writeFileSync(tmp, JSON.stringify(this.own), { mode: 0o600 });
        renameSync(tmp, place.file);
      } else if (place) {
        rmSync(place.file, { force: true });
      }
    } catch (err) {
      this.warn(`cannot write this sidecar's actor host entry in ${place!.folder}, so other sidecars do not place actors here: ${(err as Error).message}`);
    }
    this.refresh();
  }

  /** Re-reads the folder; the view changes only when the set of hosts or their types did. */
  refresh(): void {
    const found = new Map<string, HostInfo>();
    for (const entry of this.read()) found.set(entry.id, { id: entry.id, address: entry.address, actorTypes: entry.actorTypes });
    if (this.own) found.set(this.own.id, { id: this.own.id, address: this.own.address, actorTypes: this.own.actorTypes });
    else found.delete(this.selfId);
    const hosts = [...found.values()].sort((a, b) => a.id.localeCompare(b.id));
    const key = JSON.stringify(hosts);
    if (key === this.seen) return;
    this.seen = key;
    this.hosts.set(hosts);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.place && this.own) rmSync(this.place.file, { force: true });
    this.own = undefined;
  }

  private read(): Entry[] {
    if (!this.place) return [];
    const { folder } = this.place;
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return [];
    }
    const out: Entry[] = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const path = join(folder, name);
      try {
        const entry = JSON.parse(readFileSync(path, "utf8")) as Entry;
        if (typeof entry.id !== "string" || typeof entry.address !== "string" || !Number.isInteger(entry.pid) || typeof entry.actorTypes !== "object" || !entry.actorTypes) continue;
        if (!pidAlive(entry.pid)) {
          rmSync(path, { force: true });
          continue;
        }
        out.push(entry);
      } catch {
        // half-written, vanished or foreign file: skip
      }
    }
    return out;
  }
}
