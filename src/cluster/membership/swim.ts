import { BroadcastQueue } from "./broadcast-queue.js";
import { Suspicion } from "./suspicion.js";
import {
  defaultSwimConfig,
  realClock,
  type Clock,
  type Member,
  type MembershipEvent,
  type MembershipEventType,
  type Message,
  type SwimConfig,
  type Transport,
  type Update,
} from "./types.js";

export interface SwimOptions {
  id: string;
  addr: string;
  metadata?: Record<string, string>;
  transport: Transport;
  clock?: Clock;
  random?: () => number;
  config?: Partial<SwimConfig>;
}

interface MemberRecord extends Member {
  /** Smoothed round trip of direct probes, ms (0: not measured yet). */
  rtt: number;
  stateSince: number;
  suspicion: Suspicion | null;
  suspicionTimer: unknown;
}

interface ProbeRound {
  seq: number;
  target: string;
  acked: boolean;
  nacksExpected: number;
  nacksReceived: number;
}

type Listener = (event: MembershipEvent) => void;

/** Cap on a probe timeout stretched to a member's measured round trip. */
const MAX_ADAPTIVE_TIMEOUT_MS = 5_000;

/** Rounds of direct + indirect probes a suspect gets before it is declared dead. */
const LAST_CHANCE_ATTEMPTS = 2;

/**
 * SWIM membership (Das et al.) with Lifeguard's refinements (Dadgar et al.): local health awareness
 * stretching probe timeouts, dynamic suspicion timeouts shortened by independent confirmations, nacks from
 * indirect probers, and the buddy system (a suspect hears about its suspicion on the next probe).
 * Gossip rides on every message and on dedicated gossip rounds; a periodic full-state sync with one
 * random member (sometimes a dead one) repairs lost gossip and heals partitions.
 */
export class Swim {
  readonly id: string;
  readonly config: SwimConfig;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly self: Member;
  private readonly records = new Map<string, MemberRecord>();
  private readonly broadcasts = new BroadcastQueue();
  private readonly pending = new Map<number, { onAck: (from: string) => void; onNack?: () => void }>();
  private readonly listeners = new Set<Listener>();
  private seq = 0;
  private localHealth = 0;
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private round: ProbeRound | null = null;
  private timers = new Set<unknown>();
  private running = false;
  private leaving = false;

  constructor(opts: SwimOptions) {
    this.id = opts.id;
    this.transport = opts.transport;
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    const given = Object.entries(opts.config ?? {}).filter(([, v]) => v !== undefined && !Number.isNaN(v));
    this.config = { ...defaultSwimConfig, ...Object.fromEntries(given) };
    this.self = { id: opts.id, addr: opts.addr, incarnation: 0, state: "alive", metadata: { ...opts.metadata } };
  }

  // ---- public API ------------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.after(this.jitter(this.config.probeIntervalMs), () => this.probeTick());
    this.after(this.config.gossipIntervalMs, () => this.gossipTick());
    this.after(this.jitter(this.config.syncIntervalMs), () => this.syncTick());
  }

  /** Contacts members at `addrs` with a full-state sync; they answer with theirs. */
  join(addrs: Iterable<string>): void {
    for (const addr of addrs) if (addr !== this.self.addr) this.sendSync(addr, true);
  }

  stop(): void {
    this.running = false;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    for (const r of this.records.values()) this.clearSuspicion(r);
    this.pending.clear();
  }

  /** Announces departure (state `left`), keeps gossiping for `lingerMs`, then stops. */
  async leave(lingerMs = this.config.gossipIntervalMs * 5): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.self.incarnation++;
    this.self.state = "left";
    const update = this.selfUpdate();
    this.broadcasts.enqueue(update);
    const targets = this.shuffled(this.liveIds()).slice(0, Math.max(this.config.gossipNodes, 8));
    for (const id of targets) this.transport.send(this.records.get(id)!.addr, { type: "gossip", from: this.id, gossip: [update] });
    await new Promise<void>((resolve) => this.after(lingerMs, resolve));
    this.stop();
  }

  setMetadata(metadata: Record<string, string>): void {
    this.self.metadata = { ...metadata };
    this.self.incarnation++;
    this.broadcasts.enqueue(this.selfUpdate());
  }

  /** Everyone known, self first; dead and left members stay listed until reclaimed. */
  members(): Member[] {
    return [snapshot(this.self), ...[...this.records.values()].map(snapshot)];
  }

  member(id: string): Member | undefined {
    if (id === this.id) return snapshot(this.self);
    const r = this.records.get(id);
    return r ? snapshot(r) : undefined;
  }

  get incarnation(): number {
    return this.self.incarnation;
  }

  get health(): number {
    return this.localHealth;
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Seeds the member table directly (simulations and tests start from an agreed view). */
  seed(members: Array<Pick<Member, "id" | "addr"> & Partial<Member>>): void {
    for (const m of members) {
      if (m.id === this.id) continue;
      this.records.set(m.id, {
        id: m.id,
        addr: m.addr,
        incarnation: m.incarnation ?? 0,
        state: "alive",
        metadata: { ...m.metadata },
        stateSince: this.clock.now(),
        suspicion: null,
        suspicionTimer: null,
        rtt: 0,
      });
    }
  }

  // ---- message handling ------------------------------------------------------------------------

  handle(msg: Message): void {
    if (!this.running) return;
    switch (msg.type) {
      case "ping":
        this.mergeAll(msg.gossip);
        // The ack carries our own state, so a prober with a stale view of us catches up at once.
        this.transport.send(msg.fromAddr, { type: "ack", seq: msg.seq, from: this.id, gossip: [this.selfUpdate(), ...this.piggyback()] });
        return;
      case "ack":
        this.mergeAll(msg.gossip);
        this.pending.get(msg.seq)?.onAck(msg.from);
        return;
      case "nack":
        this.pending.get(msg.seq)?.onNack?.();
        return;
      case "ping-req":
        this.mergeAll(msg.gossip);
        this.probeFor(msg);
        return;
      case "gossip":
        this.mergeAll(msg.gossip);
        return;
      case "sync":
        this.mergeAll(msg.members);
        if (msg.reply) this.sendSync(msg.fromAddr, false);
        return;
    }
  }

  // ---- probing ---------------------------------------------------------------------------------

  private scaled(ms: number): number {
    return ms * (this.localHealth + 1);
  }

  private probeTick(): void {
    if (!this.running) return;
    this.finishRound();
    this.roundMs = this.scaled(this.config.probeIntervalMs);
    if (!this.leaving) this.startRound();
    this.after(this.roundMs, () => this.probeTick());
  }

  /** Length of the current protocol period: the configured one, or longer for a far (slow) target. */
  private roundMs = 0;

  /** Smoothed round trip over all members' direct probes: the guess for a member not measured yet. */
  private typicalRtt = 0;

  /** How long to wait for a direct ack from `r`: the probe timeout, or twice its (or a typical) round trip. */
  private directTimeout(r: MemberRecord): number {
    const rtt = r.rtt || this.typicalRtt;
    return Math.max(this.scaled(this.config.probeTimeoutMs), Math.min(2 * rtt, MAX_ADAPTIVE_TIMEOUT_MS));
  }

  private startRound(): void {
    const target = this.nextTarget();
    if (!target) return;
    const seq = ++this.seq;
    const round: ProbeRound = { seq, target: target.id, acked: false, nacksExpected: 0, nacksReceived: 0 };
    this.round = round;
    const sentAt = this.clock.now();
    const timeout = this.directTimeout(target);
    // For a far target, indirect probes need about two of its round trips before the period ends.
    if (timeout > this.scaled(this.config.probeTimeoutMs)) this.roundMs = Math.max(this.roundMs, timeout * 2.5);
    this.pending.set(seq, {
      onAck: (from) => {
        if (from === target.id && !round.acked) {
          const rtt = this.clock.now() - sentAt;
          target.rtt = target.rtt === 0 ? rtt : 0.875 * target.rtt + 0.125 * rtt;
          this.typicalRtt = this.typicalRtt === 0 ? rtt : 0.875 * this.typicalRtt + 0.125 * rtt;
        }
        round.acked = true;
      },
      onNack: () => {
        round.nacksReceived++;
      },
    });
    const gossip = this.piggyback();
    if (target.state === "suspect") {
      // Buddy system: tell the suspect directly so it can refute before the timeout.
      gossip.unshift(this.broadcasts.peek(target.id) ?? this.updateOf(target, this.id));
    }
    this.transport.send(target.addr, { type: "ping", seq, from: this.id, fromAddr: this.self.addr, gossip });
    this.after(timeout, () => {
      if (round.acked || this.round !== round) return;
      const helpers = this.shuffled(this.liveIds().filter((id) => id !== target.id)).slice(0, this.config.indirectChecks);
      round.nacksExpected = helpers.length;
      // A second direct ping alongside the indirect ones (memberlist adds a TCP ping here): one lost
      // datagram should not be enough to raise a suspicion that the whole cluster then has to hear of.
      this.transport.send(target.addr, { type: "ping", seq, from: this.id, fromAddr: this.self.addr, gossip: [] });
      for (const id of helpers) {
        this.transport.send(this.records.get(id)!.addr, {
          type: "ping-req",
          seq,
          from: this.id,
          fromAddr: this.self.addr,
          target: target.id,
          targetAddr: target.addr,
          gossip: this.piggyback(),
        });
      }
    });
  }

  private finishRound(): void {
    const round = this.round;
    if (!round) return;
    this.round = null;
    // A late direct ack still teaches us the target's round trip (so its next probe waits long enough).
    const late = this.pending.get(round.seq);
    if (late && !round.acked) {
      this.pending.set(round.seq, { onAck: (from) => from === round.target && late.onAck(from) });
      this.after(MAX_ADAPTIVE_TIMEOUT_MS, () => this.pending.delete(round.seq));
    } else {
      this.pending.delete(round.seq);
    }
    if (round.acked) {
      this.localHealth = Math.max(0, this.localHealth - 1);
      return;
    }
    const missedNacks = round.nacksExpected - round.nacksReceived;
    this.localHealth = Math.min(this.config.maxLocalHealth, this.localHealth + 1 + missedNacks);
    const target = this.records.get(round.target);
    if (!target || (target.state !== "alive" && target.state !== "suspect")) return;
    // Already suspect: our failed probe is an independent confirmation (it shortens the timeout).
    const suspicion: Update = { ...this.updateOf(target, this.id), state: "suspect" };
    this.merge(suspicion);
    // Tell the suspect too (in the spirit of Lifeguard's buddy system): if it is only lossy, it refutes now.
    this.transport.send(target.addr, { type: "gossip", from: this.id, gossip: [suspicion] });
  }

  /** An indirect probe on behalf of `req.from`: ack back if the target answers, nack if it does not. */
  private probeFor(req: Extract<Message, { type: "ping-req" }>): void {
    const seq = ++this.seq;
    let answered = false;
    this.pending.set(seq, {
      onAck: () => {
        if (answered) return;
        answered = true;
        const target = this.records.get(req.target);
        const gossip = target ? [this.updateOf(target, this.id)] : [];
        this.transport.send(req.fromAddr, { type: "ack", seq: req.seq, from: this.id, gossip });
      },
    });
    this.transport.send(req.targetAddr, { type: "ping", seq, from: this.id, fromAddr: this.self.addr, gossip: this.piggyback() });
    const known = this.records.get(req.target);
    const timeout = known ? this.directTimeout(known) : this.config.probeTimeoutMs;
    this.after(timeout, () => {
      if (!answered) this.transport.send(req.fromAddr, { type: "nack", seq: req.seq, from: this.id });
    });
    this.after(Math.max(this.config.probeIntervalMs, timeout * 2), () => this.pending.delete(seq));
  }

  /**
   * About k members, picked at random among those who hear of a suspicion, probe the suspect next: their
   * independent confirmations (or refutations) are what shortens Lifeguard's suspicion timeout.
   */
  private maybeProbeSoon(r: MemberRecord): void {
    if (this.random() >= this.config.indirectChecks / Math.max(1, this.liveCount())) return;
    this.probeOrder.splice(this.probeIndex, 0, r.id);
  }

  private nextTarget(): MemberRecord | null {
    for (let tries = 0; tries < 2; tries++) {
      while (this.probeIndex < this.probeOrder.length) {
        const r = this.records.get(this.probeOrder[this.probeIndex++]!);
        if (r && (r.state === "alive" || r.state === "suspect")) return r;
      }
      this.probeOrder = this.shuffled(this.liveIds());
      this.probeIndex = 0;
    }
    return null;
  }

  // ---- dissemination ---------------------------------------------------------------------------

  private retransmitLimit(): number {
    return Math.ceil(this.config.retransmitMult * Math.log10(this.liveCount() + 2));
  }

  private piggyback(): Update[] {
    return this.broadcasts.take(this.config.maxPiggyback, this.retransmitLimit());
  }

  private gossipTick(): void {
    if (!this.running) return;
    if (this.broadcasts.size > 0) {
      const targets = this.shuffled(this.liveIds()).slice(0, this.config.gossipNodes);
      for (const id of targets) {
        const gossip = this.piggyback();
        if (gossip.length === 0) break;
        this.transport.send(this.records.get(id)!.addr, { type: "gossip", from: this.id, gossip });
      }
    }
    this.after(this.config.gossipIntervalMs, () => this.gossipTick());
  }

  private syncTick(): void {
    if (!this.running) return;
    this.reclaimDead();
    const live = this.liveIds();
    const gone = [...this.records.values()].filter((r) => r.state === "dead").map((r) => r.id);
    // Mostly a live member; now and then a dead one, which is how two sides of a healed partition meet.
    const pool = gone.length > 0 && (live.length === 0 || this.random() < 0.25) ? gone : live;
    const pick = pool[Math.floor(this.random() * pool.length)];
    if (pick !== undefined) this.sendSync(this.records.get(pick)!.addr, true);
    this.after(this.jitter(this.config.syncIntervalMs), () => this.syncTick());
  }

  private sendSync(addr: string, reply: boolean): void {
    const members = [this.selfUpdate(), ...[...this.records.values()].map((r) => this.updateOf(r, this.id))];
    this.transport.send(addr, { type: "sync", from: this.id, fromAddr: this.self.addr, members, reply });
  }

  private reclaimDead(): void {
    const now = this.clock.now();
    for (const [id, r] of this.records) {
      if ((r.state === "dead" || r.state === "left") && now - r.stateSince > this.config.deadReclaimMs) {
        this.records.delete(id);
      }
    }
  }

  // ---- merging state ---------------------------------------------------------------------------

  private mergeAll(updates: Update[]): void {
    for (const u of updates) this.merge(u);
  }

  private merge(u: Update): void {
    if (u.id === this.id) return this.mergeAboutSelf(u);
    const r = this.records.get(u.id);
    if (!r) return this.mergeUnknown(u);

    switch (u.state) {
      case "alive": {
        if (u.incarnation <= r.incarnation) return;
        const prev = r.state;
        const metadataChanged = !sameMetadata(r.metadata, u.metadata);
        this.clearSuspicion(r);
        Object.assign(r, { incarnation: u.incarnation, addr: u.addr, metadata: { ...u.metadata } });
        this.setState(r, "alive");
        this.broadcasts.enqueue(u);
        if (prev === "suspect") this.emit("alive", r);
        else if (prev === "dead" || prev === "left") this.emit("join", r);
        else if (metadataChanged) this.emit("update", r);
        return;
      }
      case "suspect": {
        if (u.incarnation < r.incarnation) return this.correct(u, r);
        if (r.state === "dead" || r.state === "left") return;
        if (r.state === "suspect") {
          if (u.incarnation > r.incarnation) r.incarnation = u.incarnation;
          if (r.suspicion?.confirm(u.from)) {
            this.armSuspicion(r);
            this.broadcasts.enqueue(u);
          }
          return;
        }
        r.incarnation = u.incarnation;
        this.setState(r, "suspect");
        r.suspicion = new Suspicion(
          this.clock.now(),
          this.suspicionMin(),
          this.suspicionMin() * this.config.suspicionMaxMult,
          this.config.indirectChecks,
          u.from,
        );
        this.armSuspicion(r);
        this.broadcasts.enqueue(u);
        this.emit("suspect", r);
        this.maybeProbeSoon(r);
        return;
      }
      case "dead":
      case "left": {
        if (u.incarnation < r.incarnation) return this.correct(u, r);
        if (r.state === "dead" || r.state === "left") return;
        this.clearSuspicion(r);
        r.incarnation = u.incarnation;
        this.setState(r, u.state);
        this.broadcasts.enqueue(u);
        this.emit(u.state === "left" ? "leave" : "fail", r);
        return;
      }
    }
  }

  private mergeUnknown(u: Update): void {
    const r: MemberRecord = {
      id: u.id,
      addr: u.addr,
      incarnation: u.incarnation,
      state: u.state,
      metadata: { ...u.metadata },
      stateSince: this.clock.now(),
      suspicion: null,
      suspicionTimer: null,
      rtt: 0,
    };
    this.records.set(u.id, r);
    // A member first heard of as dead or left is remembered (to outrank stale alive gossip) but not announced.
    if (u.state === "dead" || u.state === "left") return;
    this.broadcasts.enqueue(u);
    this.emit("join", r);
    if (u.state === "suspect") {
      r.suspicion = new Suspicion(this.clock.now(), this.suspicionMin(), this.suspicionMin() * this.config.suspicionMaxMult, this.config.indirectChecks, u.from);
      this.armSuspicion(r);
      this.emit("suspect", r);
    }
  }

  /** `u.from` acts on an outdated view of `r` (it missed a refutation): send it what we know. */
  private correct(u: Update, r: Member): void {
    if (r.state !== "alive" || u.from === this.id) return;
    const addr = u.from === r.id ? r.addr : this.records.get(u.from)?.addr;
    if (addr) this.transport.send(addr, { type: "gossip", from: this.id, gossip: [this.updateOf(r, this.id)] });
  }

  private mergeAboutSelf(u: Update): void {
    if (this.leaving || u.state === "alive") return;
    if (u.incarnation < this.self.incarnation) return this.correct(u, this.self);
    // Someone suspects us or thinks we are dead: refute with a higher incarnation.
    this.self.incarnation = u.incarnation + 1;
    this.localHealth = Math.min(this.config.maxLocalHealth, this.localHealth + 1);
    this.broadcasts.enqueue(this.selfUpdate());
  }

  private suspicionMin(): number {
    const n = this.liveCount() + 1;
    return this.config.suspicionMult * Math.max(1, Math.log10(n)) * this.config.probeIntervalMs;
  }

  private armSuspicion(r: MemberRecord): void {
    if (r.suspicionTimer) {
      this.clock.clearTimeout(r.suspicionTimer);
      this.timers.delete(r.suspicionTimer);
    }
    const incarnation = r.incarnation;
    const wait = Math.max(0, r.suspicion!.deadline() - this.clock.now());
    r.suspicionTimer = this.after(wait, () => {
      r.suspicionTimer = null;
      if (r.state !== "suspect" || r.incarnation !== incarnation) return;
      this.lastChance(r, incarnation);
    });
  }

  /**
   * Before declaring a suspect dead, probe it once more, directly and through k others. An answer carries
   * its current state, which clears a suspicion whose refutation never reached us.
   */
  private lastChance(r: MemberRecord, incarnation: number): void {
    const seqs: number[] = [];
    let answered = false;
    const attempt = () => {
      const seq = ++this.seq;
      seqs.push(seq);
      this.pending.set(seq, { onAck: () => (answered = true) });
      this.transport.send(r.addr, { type: "ping", seq, from: this.id, fromAddr: this.self.addr, gossip: [] });
      for (const id of this.shuffled(this.liveIds().filter((x) => x !== r.id)).slice(0, this.config.indirectChecks)) {
        this.transport.send(this.records.get(id)!.addr, {
          type: "ping-req",
          seq,
          from: this.id,
          fromAddr: this.self.addr,
          target: r.id,
          targetAddr: r.addr,
          gossip: [],
        });
      }
    };
    // Attempts overlap: a slow answer to the first (a long round trip) still counts while the second runs.
    const step = this.directTimeout(r);
    attempt();
    for (let i = 1; i < LAST_CHANCE_ATTEMPTS; i++) this.after(step * i, () => answered || attempt());
    this.after(step * LAST_CHANCE_ATTEMPTS, () => {
      for (const seq of seqs) this.pending.delete(seq);
      if (r.state !== "suspect" || r.incarnation !== incarnation) return;
      if (!answered) {
        this.merge({ ...this.updateOf(r, this.id), state: "dead" });
        return;
      }
      // It answers but has not refuted yet: tell it, and give it a fresh (minimum) suspicion window.
      this.transport.send(r.addr, { type: "gossip", from: this.id, gossip: [{ ...this.updateOf(r, this.id), state: "suspect" }] });
      r.suspicion = new Suspicion(this.clock.now(), this.suspicionMin(), this.suspicionMin(), 0, this.id);
      this.armSuspicion(r);
    });
  }

  private clearSuspicion(r: MemberRecord): void {
    if (r.suspicionTimer) {
      this.clock.clearTimeout(r.suspicionTimer);
      this.timers.delete(r.suspicionTimer);
    }
    r.suspicionTimer = null;
    r.suspicion = null;
  }

  private setState(r: MemberRecord, state: Member["state"]): void {
    r.state = state;
    r.stateSince = this.clock.now();
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private emit(type: MembershipEventType, r: MemberRecord): void {
    const event = { type, member: snapshot(r) };
    for (const l of this.listeners) l(event);
  }

  private selfUpdate(): Update {
    return this.updateOf(this.self, this.id);
  }

  private updateOf(m: Member, from: string): Update {
    return { id: m.id, addr: m.addr, incarnation: m.incarnation, state: m.state, metadata: m.metadata, from };
  }

  private liveIds(): string[] {
    const out: string[] = [];
    for (const r of this.records.values()) if (r.state === "alive" || r.state === "suspect") out.push(r.id);
    return out;
  }

  private liveCount(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.state === "alive" || r.state === "suspect") n++;
    return n;
  }

  private shuffled<T>(items: T[]): T[] {
    const a = items.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  private jitter(ms: number): number {
    return ms * (0.5 + this.random());
  }

  private after(ms: number, fn: () => void): unknown {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }
}

function snapshot(m: Member): Member {
  return { id: m.id, addr: m.addr, incarnation: m.incarnation, state: m.state, metadata: { ...m.metadata } };
}

function sameMetadata(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
