import type { Update } from "./types.js";

interface Entry {
  update: Update;
  transmits: number;
}

/**
 * Pending gossip, one entry per member (a newer update about a member replaces the older one).
 * Each round hands out the least-transmitted entries first; an entry retires after `limit` sends.
 */
export class BroadcastQueue {
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  enqueue(update: Update): void {
    this.entries.set(update.id, { update, transmits: 0 });
  }

  take(max: number, limit: number): Update[] {
    if (this.entries.size === 0) return [];
    const all = [...this.entries.values()];
    const chosen = all.length <= max ? all : all.sort((a, b) => a.transmits - b.transmits).slice(0, max);
    const out: Update[] = [];
    for (const e of chosen) {
      out.push(e.update);
      if (++e.transmits >= limit) this.entries.delete(e.update.id);
    }
    return out;
  }

  /** Puts `id`'s pending update first in line (Lifeguard's buddy system uses it for suspicions). */
  peek(id: string): Update | undefined {
    return this.entries.get(id)?.update;
  }
}
