// One actor's turn queue: calls run one chain at a time, in arrival order. A chain ("flight", as daprd calls it)
// is one call, or with reentrancy every call carrying the same Dapr-Reentrancy-Id; calls of the running chain
// enter at once, up to maxStackDepth of them, all others wait their chain's turn.
import { randomUUID } from "node:crypto";
import { ActorQueueFullError, ActorStackDepthError } from "./errors.js";

export interface ReentrancyConfig {
  enabled: boolean;
  /** Calls one chain may have in the actor at once (daprd's default: 32). */
  maxStackDepth: number;
}

export interface MailboxLimits {
  /** Calls that may wait for their turn; one more fails with ActorQueueFullError. */
  maxQueue: number;
  reentrancy: ReentrancyConfig;
}

/** A call admitted into the actor. */
export interface Turn {
  /** The chain's Dapr-Reentrancy-Id (generated for a call that brought none), for the app call; undefined without reentrancy. */
  readonly reentrancyId: string | undefined;
  /** Ends the call's turn; idempotent. */
  release(): void;
}

/** The mailbox stopped taking new chains (its actor is deactivating): wait for that, then call again. */
export class MailboxStoppedError extends Error {
  constructor() {
    super("actor is deactivating");
    this.name = "MailboxStoppedError";
  }
}

interface Waiter {
  start(): void;
  reject(err: unknown): void;
}

interface Flight {
  readonly id: string | undefined;
  /** Calls of the chain in the actor or waiting to enter it. */
  depth: number;
  started: boolean;
  readonly waiters: Set<Waiter>;
}

export class Mailbox {
  /** flights[0] runs; it is the only started one. */
  private readonly flights: Flight[] = [];
  private waiting = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly actorKey: string,
    private readonly limits: MailboxLimits,
  ) {}

  /** A chain runs or waits. */
  get busy(): boolean {
    return this.flights.length > 0;
  }

  get queued(): number {
    return this.waiting;
  }

  /** Waits for the call's turn. The signal withdraws a waiting call (rejecting with its reason). */
  enter(reentrancyId?: string, signal?: AbortSignal): Promise<Turn> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { reentrancy, maxQueue } = this.limits;
    const id = reentrancy.enabled ? reentrancyId || randomUUID() : undefined;
    let flight = id === undefined ? undefined : this.flights.find((f) => f.id === id);
    if (this.stopped && !flight?.started) return Promise.reject(new MailboxStoppedError());
    if (flight && flight.depth >= reentrancy.maxStackDepth) {
      return Promise.reject(new ActorStackDepthError(this.actorKey, reentrancy.maxStackDepth));
    }
    if (!flight && this.flights.length === 0) {
      flight = { id, depth: 0, started: true, waiters: new Set() };
      this.flights.push(flight);
    }
    if (flight?.started) {
      flight.depth++;
      return Promise.resolve(this.turnOf(flight));
    }
    if (this.waiting >= maxQueue) return Promise.reject(new ActorQueueFullError(this.actorKey, maxQueue));
    if (!flight) {
      flight = { id, depth: 0, started: false, waiters: new Set() };
      this.flights.push(flight);
    }
    return this.wait(flight, signal);
  }

  /** Takes no new chains; waiting calls fail with MailboxStoppedError. Calls of the running chain still enter. */
  stop(): void {
    this.stopped = true;
    for (const flight of this.flights.splice(1)) {
      for (const waiter of flight.waiters) waiter.reject(new MailboxStoppedError());
    }
    this.waiting = 0;
    this.notifyIfIdle();
  }

  /** Resolves once no chain runs or waits. */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wait(flight: Flight, signal: AbortSignal | undefined): Promise<Turn> {
    flight.depth++;
    this.waiting++;
    return new Promise<Turn>((resolve, reject) => {
      const onAbort = () => {
        if (!flight.waiters.delete(waiter)) return;
        this.waiting--;
        flight.depth--;
        if (flight.depth === 0) this.flights.splice(this.flights.indexOf(flight), 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.turnOf(flight));
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      flight.waiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private turnOf(flight: Flight): Turn {
    let released = false;
    return {
      reentrancyId: flight.id,
      release: () => {
        if (released) return;
        released = true;
        flight.depth--;
        if (flight.depth === 0) this.finishRunning();
      },
    };
  }

  private finishRunning(): void {
    this.flights.shift();
    const next = this.flights[0];
    if (next) {
      next.started = true;
      this.waiting -= next.waiters.size;
      const waiters = [...next.waiters];
      next.waiters.clear();
      for (const waiter of waiters) waiter.start();
    }
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
