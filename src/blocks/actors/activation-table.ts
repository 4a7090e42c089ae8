// The actors active on this node: each with its turn queue, activated on its first call, deactivated when idle,
// drained when its owner moves, never active twice at once here.
import type { Clock } from "../../clock.js";
import { silentLogger, type Logger } from "../../observability/logger.js";
import { messageOf } from "../../errors.js";
import type { ActorTypeConfig } from "./config.js";
import { DEFAULT_SCAN_INTERVAL_MS } from "./config.js";
import {
  ActorActivationError,
  ActorClosedError,
  ActorMovedError,
  ActorTypeNotHostedError,
  actorKey,
} from "./errors.js";
import { Mailbox, MailboxStoppedError, type Turn } from "./mailbox.js";
import type { ActorMove, Placement } from "./placement/types.js";

/** The app calls around an actor's life. */
export interface ActorHooks {
  /** Before the actor's first turn. A failure fails the calls waiting for it; the next call tries afresh. */
  activate(actorType: string, actorId: string): Promise<void>;
  /** After its last turn (daprd: DELETE /actors/{type}/{id} on the app). */
  deactivate(actorType: string, actorId: string): Promise<void>;
}

export interface TurnContext {
  readonly actorType: string;
  readonly actorId: string;
  /** The chain's Dapr-Reentrancy-Id to pass to the app; undefined when the type has no reentrancy. */
  readonly reentrancyId: string | undefined;
  /** Aborts when a drain or close cuts the turn short; the caller has then already been answered. */
  readonly signal: AbortSignal;
  /** The placement view version this activation was admitted under: the fence for its state writes. */
  readonly activationEpoch: number;
}

export interface CallOptions {
  /** The caller's Dapr-Reentrancy-Id header. */
  reentrancyId?: string;
  /** Withdraws the call while it waits for its turn. */
  signal?: AbortSignal;
}

export interface ActorTableOptions {
  clock: Clock;
  hooks: ActorHooks;
  /** The settings of each type this node's app hosts; undefined for a type it does not host. */
  typeConfig(actorType: string): ActorTypeConfig | undefined;
  /** With placement, an actor activates only where this node's view places it, and drains when that moves. */
  placement?: Placement;
  logger?: Logger;
}

interface Activation {
  readonly actorType: string;
  readonly actorId: string;
  readonly key: string;
  readonly config: ActorTypeConfig;
  readonly mailbox: Mailbox;
  readonly epoch: number;
  /** Cuts running turns short. */
  readonly abort: AbortController;
  ready: Promise<void>;
  lastUsed: number;
  deactivation?: Promise<void>;
}

/** A call goes round again only after a deactivation it waited for; this bounds a pathological churn. */
const MAX_REACTIVATIONS = 16;

export class ActorTable {
  private readonly activations = new Map<string, Activation>();
  private readonly deactivatedListeners = new Set<(actorType: string, actorId: string) => void>();
  private readonly unsubscribeMoves: () => void;
  private readonly log: Logger;
  private stopScanner: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: ActorTableOptions) {
    this.log = options.logger ?? silentLogger;
    this.unsubscribeMoves = options.placement?.onMoved((moves) => this.moved(moves)) ?? (() => {});
  }

  /** Runs `fn` as one turn of the actor, activating it first if it is not active here. */
  async call<T>(actorType: string, actorId: string, fn: (ctx: TurnContext) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const key = actorKey(actorType, actorId);
    for (let round = 0; round < MAX_REACTIVATIONS; round++) {
      if (this.closed) throw new ActorClosedError(key, "cannot be called: the actor runtime is closed");
      const activation = this.activations.get(key) ?? this.activate(actorType, actorId);
      let turn: Turn;
      try {
        turn = await activation.mailbox.enter(options.reentrancyId, options.signal);
      } catch (err) {
        if (!(err instanceof MailboxStoppedError)) throw err;
        await (options.signal ? untilAborted(activation.deactivation!, options.signal) : activation.deactivation);
        continue;
      }
      return this.run(activation, turn, fn);
    }
    throw new ActorClosedError(key, `was deactivated ${MAX_REACTIVATIONS} times while the call waited`);
  }

  /** Stops taking calls, lets running ones finish within the type's drainOngoingCallTimeout, then deactivates. */
  drain(actorType: string, actorId: string): Promise<void> {
    const activation = this.activations.get(actorKey(actorType, actorId));
    return activation ? this.deactivate(activation) : Promise.resolve();
  }

  /** Deactivates actors idle past their type's idle timeout; busy ones are skipped. Returns how many. */
  async scanIdle(): Promise<number> {
    const now = this.options.clock.now();
    const idle = [...this.activations.values()].filter(
      (a) => !a.deactivation && !a.mailbox.busy && now - a.lastUsed >= a.config.idleTimeoutMs,
    );
    await Promise.all(idle.map((a) => this.deactivate(a)));
    return idle.length;
  }

  /** Scans for idle actors every interval (actorScanInterval) until stopped or closed. */
  startIdleScanner(intervalMs = DEFAULT_SCAN_INTERVAL_MS): () => void {
    this.stopScanner?.();
    const { clock } = this.options;
    let stopped = false;
    let handle: unknown;
    const schedule = () => {
      handle = clock.setTimeout(async () => {
        await this.scanIdle().catch((err) => this.log.warn("actor idle scan failed", { error: messageOf(err) }));
        if (!stopped) schedule();
      }, intervalMs);
    };
    schedule();
    const stop = () => {
      stopped = true;
      clock.clearTimeout(handle);
    };
    this.stopScanner = stop;
    return stop;
  }

  /** Drains every actor; calls after this fail with ActorClosedError. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopScanner?.();
    this.unsubscribeMoves();
    await Promise.all([...this.activations.values()].map((a) => this.deactivate(a)));
  }

  isActive(actorType: string, actorId: string): boolean {
    return this.activations.has(actorKey(actorType, actorId));
  }

  /** Active actors per type: the load this host reports. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const a of this.activations.values()) counts[a.actorType] = (counts[a.actorType] ?? 0) + 1;
    return counts;
  }

  /** After each deactivation (e.g. to stop the actor's timers). Returns the unsubscribe. */
  onDeactivated(listener: (actorType: string, actorId: string) => void): () => void {
    this.deactivatedListeners.add(listener);
    return () => this.deactivatedListeners.delete(listener);
  }

  private activate(actorType: string, actorId: string): Activation {
    const key = actorKey(actorType, actorId);
    const config = this.options.typeConfig(actorType);
    if (!config) throw new ActorTypeNotHostedError(key, actorType);
    const { placement, clock, hooks } = this.options;
    let epoch = 0;
    if (placement) {
      const owner = placement.locate(actorType, actorId);
      if (owner?.host !== placement.self) throw new ActorMovedError(key, owner);
      epoch = owner.epoch;
    }
    const activation: Activation = {
      actorType,
      actorId,
      key,
      config,
      epoch,
      mailbox: new Mailbox(key, config),
      abort: new AbortController(),
      ready: Promise.resolve(),
      lastUsed: clock.now(),
    };
    this.activations.set(key, activation);
    placement?.activated(actorType, actorId);
    activation.ready = hooks.activate(actorType, actorId).catch((err) => {
      this.forget(activation);
      throw new ActorActivationError(key, err);
    });
    activation.ready.catch(() => {});
    return activation;
  }

  private async run<T>(activation: Activation, turn: Turn, fn: (ctx: TurnContext) => Promise<T>): Promise<T> {
    const { clock } = this.options;
    try {
      await activation.ready;
      activation.lastUsed = clock.now();
      const { actorType, actorId, abort, epoch } = activation;
      const ctx: TurnContext = { actorType, actorId, reentrancyId: turn.reentrancyId, signal: abort.signal, activationEpoch: epoch };
      return await untilAborted(fn(ctx), abort.signal);
    } finally {
      activation.lastUsed = clock.now();
      turn.release();
    }
  }

  private deactivate(activation: Activation): Promise<void> {
    if (activation.deactivation) return activation.deactivation;
    activation.mailbox.stop();
    const turnsFinished = this.turnsFinished(activation);
    activation.deactivation = (async () => {
      const activated = await activation.ready.then(
        () => true,
        () => false,
      );
      await turnsFinished;
      if (activated) {
        try {
          await this.options.hooks.deactivate(activation.actorType, activation.actorId);
        } catch (err) {
          this.log.warn("actor deactivation failed", { actor: activation.key, error: messageOf(err) });
        }
      }
      this.forget(activation);
    })();
    return activation.deactivation;
  }

  /** Waits for the running chain up to the drain timeout (counted from now), then cuts it short. */
  private async turnsFinished(activation: Activation): Promise<void> {
    if (!activation.mailbox.busy) return;
    const { clock } = this.options;
    let handle: unknown;
    const timedOut = new Promise<boolean>((resolve) => {
      handle = clock.setTimeout(() => resolve(true), activation.config.drainOngoingCallTimeoutMs);
    });
    const expired = await Promise.race([activation.mailbox.whenIdle().then(() => false), timedOut]);
    clock.clearTimeout(handle);
    if (expired) {
      this.log.warn("actor calls cut short by drainOngoingCallTimeout", { actor: activation.key });
      activation.abort.abort(new ActorClosedError(activation.key, "was deactivated before the call finished (drainOngoingCallTimeout)"));
    }
  }

  private forget(activation: Activation): void {
    if (this.activations.get(activation.key) !== activation) return;
    this.activations.delete(activation.key);
    this.options.placement?.deactivated(activation.actorType, activation.actorId);
    for (const listener of [...this.deactivatedListeners]) listener(activation.actorType, activation.actorId);
  }

  private moved(moves: readonly ActorMove[]): void {
    for (const { actorType, actorId } of moves) void this.drain(actorType, actorId);
  }
}

/** The promise's outcome, or the signal's reason once it aborts (the promise then runs on unobserved). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
