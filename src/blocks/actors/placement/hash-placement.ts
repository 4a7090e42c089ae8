// Placement by consistent hashing, per actor type, over the live hosts of that type in this node's view.
import { DEFAULT_VIRTUAL_NODES, HashRing } from "./hash-ring.js";
import type { ActorMove, Hosts, HostsView, Location, Placement } from "./types.js";

interface TypeTable {
  /** The sorted host ids of the type: equal fingerprints, equal owners. */
  fingerprint: string;
  ring: HashRing;
}

export class HashPlacement implements Placement {
  private view: HostsView;
  private tables = new Map<string, TypeTable>();
  private addresses = new Map<string, string>();
  private readonly active = new Map<string, Set<string>>();
  private readonly listeners = new Set<(moves: readonly ActorMove[]) => void>();
  private readonly unsubscribe: () => void;

  constructor(
    hosts: Hosts,
    readonly self: string,
    private readonly virtualNodes = DEFAULT_VIRTUAL_NODES,
  ) {
    this.view = hosts.view();
    this.rebuild();
    this.unsubscribe = hosts.onChange((view) => this.viewChanged(view));
  }

  locate(actorType: string, actorId: string): Location | undefined {
    const host = this.tables.get(actorType)?.ring.owner(actorId);
    if (host === undefined) return undefined;
    return { host, address: this.addresses.get(host) ?? "", epoch: this.view.version };
  }

  activated(actorType: string, actorId: string): void {
    let ids = this.active.get(actorType);
    if (!ids) this.active.set(actorType, (ids = new Set()));
    ids.add(actorId);
  }

  deactivated(actorType: string, actorId: string): void {
    const ids = this.active.get(actorType);
    ids?.delete(actorId);
    if (ids?.size === 0) this.active.delete(actorType);
  }

  onMoved(listener: (moves: readonly ActorMove[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  private viewChanged(view: HostsView): void {
    const before = this.tables;
    this.view = view;
    this.rebuild();
    const moves: ActorMove[] = [];
    for (const [actorType, ids] of this.active) {
      if (before.get(actorType)?.fingerprint === this.tables.get(actorType)?.fingerprint) continue;
      for (const actorId of ids) {
        const to = this.locate(actorType, actorId);
        if (to?.host !== this.self) moves.push({ actorType, actorId, to });
      }
    }
    if (moves.length > 0) for (const listener of [...this.listeners]) listener(moves);
  }

  /** Per-type tables of the current view, reusing a type's ring while its host set is unchanged. */
  private rebuild(): void {
    const hostsByType = new Map<string, string[]>();
    this.addresses = new Map();
    for (const host of this.view.hosts) {
      this.addresses.set(host.id, host.address);
      for (const actorType of Object.keys(host.actorTypes)) {
        const ids = hostsByType.get(actorType);
        if (ids) ids.push(host.id);
        else hostsByType.set(actorType, [host.id]);
      }
    }
    const tables = new Map<string, TypeTable>();
    for (const [actorType, ids] of hostsByType) {
      const fingerprint = JSON.stringify([...new Set(ids)].sort());
      const previous = this.tables.get(actorType);
      tables.set(
        actorType,
        previous?.fingerprint === fingerprint ? previous : { fingerprint, ring: HashRing.of(ids, this.virtualNodes) },
      );
    }
    this.tables = tables;
  }
}
