// A deterministic discrete-event world for the SWIM code: one virtual clock, a seeded random source and
// a network with latency, loss, crashes and partitions. Used by test/cluster and bench/cluster-sim.ts.
import { Swim } from "./swim.js";
import type { Clock, Message, SwimConfig } from "./types.js";

interface Event {
  at: number;
  order: number;
  fn: () => void;
  cancelled: boolean;
}

/** Binary min-heap of events by (time, insertion order): equal times run in the order scheduled. */
class EventQueue {
  private heap: Event[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  peek(): Event | undefined {
    return this.heap[0];
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationOptions {
  seed?: number;
  /** Probability that any one message is lost. */
  loss?: number;
  minLatencyMs?: number;
  maxLatencyMs?: number;
  config?: Partial<SwimConfig>;
}

export class Simulation {
  readonly random: () => number;
  readonly nodes = new Map<string, Swim>();
  readonly crashed = new Set<string>();
  messagesSent = 0;
  loss: number;
  private time = 0;
  private order = 0;
  private readonly queue = new EventQueue();
  private readonly minLatency: number;
  private readonly maxLatency: number;
  private readonly config: Partial<SwimConfig>;
  private readonly group = new Map<string, number>();

  constructor(opts: SimulationOptions = {}) {
    this.random = seededRandom(opts.seed ?? 1);
    this.loss = opts.loss ?? 0;
    this.minLatency = opts.minLatencyMs ?? 1;
    this.maxLatency = opts.maxLatencyMs ?? 5;
    this.config = opts.config ?? {};
  }

  get now(): number {
    return this.time;
  }

  schedule(ms: number, fn: () => void): Event {
    const e = { at: this.time + Math.max(0, ms), order: this.order++, fn, cancelled: false };
    this.queue.push(e);
    return e;
  }

  private clockFor(id: string): Clock {
    return {
      now: () => this.time,
      setTimeout: (fn, ms) =>
        this.schedule(ms, () => {
          if (!this.crashed.has(id)) fn();
        }),
      clearTimeout: (h) => {
        (h as Event).cancelled = true;
      },
    };
  }

  addNode(id: string, metadata: Record<string, string> = {}): Swim {
    const node = new Swim({
      id,
      addr: id,
      metadata,
      clock: this.clockFor(id),
      random: this.random,
      config: this.config,
      transport: { send: (to, msg) => this.deliver(id, to, msg) },
    });
    this.nodes.set(id, node);
    return node;
  }

  /** n nodes that already agree on the full member list, all started. */
  static seeded(n: number, opts: SimulationOptions = {}): Simulation {
    const sim = new Simulation(opts);
    const ids = Array.from({ length: n }, (_, i) => `n${i}`);
    for (const id of ids) sim.addNode(id);
    const all = ids.map((id) => ({ id, addr: id }));
    for (const node of sim.nodes.values()) {
      node.seed(all);
      node.start();
    }
    return sim;
  }

  private deliver(from: string, to: string, msg: Message): void {
    this.messagesSent++;
    if (this.crashed.has(from) || this.crashed.has(to)) return;
    if ((this.group.get(from) ?? 0) !== (this.group.get(to) ?? 0)) return;
    if (this.loss > 0 && this.random() < this.loss) return;
    const latency = this.minLatency + this.random() * (this.maxLatency - this.minLatency);
    this.schedule(latency, () => {
      if (this.crashed.has(to)) return;
      this.nodes.get(to)?.handle(msg);
    });
  }

  crash(id: string): void {
    this.crashed.add(id);
    this.nodes.get(id)?.stop();
  }

  /** Brings a crashed node back as a fresh process (incarnation 0) that joins through `via`. */
  restart(id: string, via: string[]): Swim {
    this.crashed.delete(id);
    const node = this.addNode(id);
    node.start();
    node.join(via);
    return node;
  }

  /** Splits the network: nodes in different groups cannot reach each other. `heal()` undoes it. */
  partition(groups: string[][]): void {
    this.group.clear();
    groups.forEach((ids, g) => ids.forEach((id) => this.group.set(id, g + 1)));
  }

  heal(): void {
    this.group.clear();
  }

  /** Runs events until `ms` of virtual time pass, or `until()` holds (checked after each event). */
  run(ms: number, until?: () => boolean): boolean {
    const end = this.time + ms;
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.at > end) break;
      this.queue.pop();
      if (next.cancelled) continue;
      this.time = next.at;
      next.fn();
      if (until?.()) return true;
    }
    this.time = end;
    return until?.() ?? false;
  }

  liveNodes(): Swim[] {
    return [...this.nodes.values()].filter((n) => !this.crashed.has(n.id));
  }
}
