// A Hosts view held in memory: what the membership or registry adapter writes into, and what tests drive.
import type { HostInfo, Hosts, HostsView } from "./types.js";

export class MemoryHosts implements Hosts {
  private current: HostsView;
  private readonly listeners = new Set<(view: HostsView) => void>();

  constructor(hosts: readonly HostInfo[] = []) {
    this.current = { version: 0, hosts: [...hosts] };
  }

  view(): HostsView {
    return this.current;
  }

  onChange(listener: (view: HostsView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces the whole view. */
  set(hosts: readonly HostInfo[]): void {
    this.current = { version: this.current.version + 1, hosts: [...hosts] };
    for (const listener of [...this.listeners]) listener(this.current);
  }

  /** Adds a host, or replaces the one with the same id. */
  upsert(host: HostInfo): void {
    this.set([...this.current.hosts.filter((h) => h.id !== host.id), host]);
  }

  remove(hostId: string): void {
    this.set(this.current.hosts.filter((h) => h.id !== hostId));
  }
}
