// The actors building block's logic, for both API fronts: invoke (here, or forwarded to the owner), actor state,
// timers (in memory, only while the actor is active) and reminders (durable, fired where the actor lives).
import { realClock, type Clock } from "../../clock.js";
import { DaprError, messageOf } from "../../errors.js";
import { silentLogger, type Logger } from "../../observability/logger.js";
import { TimerEngine } from "../../scheduler/engine.js";
import { StateTimerStore, type TimerEntry } from "../../scheduler/store.js";
import { actorTimerPlan, reminderPlan, TimeFormatError, type TimerPlan } from "../../scheduler/time-formats.js";
import { ActorTable, type TurnContext } from "./activation-table.js";
import { ActorState, type ActorStateOp, type ActorStateValue, type ResolvedStore } from "./actor-state.js";
import { ActorAppClient, ActorAppError, ERROR_RESPONSE_HEADER, isTruthy, REMINDER_CANCEL_HEADER } from "./app-client.js";
import { NO_ACTORS, type AppActorConfig } from "./app-config.js";
import { Code } from "@connectrpc/connect";
import { ActorMovedError, actorErrors, actorKey, toDaprError } from "./errors.js";
import {
  MAX_HOPS, OwnerUnreachableError, type ActorForwarder, type ActorInvokeRequest, type ActorInvokeResponse, type ActorScheduleRequest, type ForwardedCall, type RegisterReminderRequest,
} from "./forwarder.js";
import { HashPlacement } from "./placement/hash-placement.js";
import type { Hosts, Location } from "./placement/types.js";
import { actorOfKey, reminderInfo, timerKey, type ReminderInfo, type TimerData } from "./timers.js";
import { checkData, checkMethod, checkName, rejectReserved } from "./validate.js";

export interface ActorsBlockOptions {
  appId: string;
  /** This sidecar's host id in the hosts view. */
  self: string;
  /** The live hosts and the types their apps host (the SWIM / same-host registry adapter). */
  hosts: Hosts;
  app: ActorAppClient;
  /** The actor state store, resolved on every use (src/blocks/actors/actor-state.ts findActorStateStore). */
  stateStore(): ResolvedStore | undefined;
  /** Carries calls to the owning sidecar; without one, only actors placed here are served. */
  forwarder?: ActorForwarder;
  /** Publishes the types this app hosts into the hosts view (after every read of /dapr/config). */
  announce?(actorTypes: readonly string[]): void;
  clock?: Clock;
  logger?: Logger;
}

export interface RegisterTimerRequest extends ActorScheduleRequest {
  callback?: string;
}

export interface ActorRuntimeStatus {
  runtimeStatus: "INITIALIZING" | "RUNNING" | "DISABLED";
  activeActors: { type: string; count: number }[];
  hostReady: boolean;
  placement: string;
}

/** Reminder records sit outside the app's `<appId>||` key space, so no state key of the app collides with one. */
const REMINDER_NAMESPACE = "rapr-reminders||";

const inputError = (code: string, message: string) => new DaprError(code, message, 400, Code.InvalidArgument);

export class ActorsBlock {
  private readonly table: ActorTable;
  private readonly placement: HashPlacement;
  private readonly state: ActorState;
  private readonly timers: TimerEngine<TimerData>;
  private reminders?: TimerEngine<TimerData>;
  private reminderStore?: StateTimerStore;
  private config: AppActorConfig = NO_ACTORS;
  private readonly clock: Clock;
  private readonly log: Logger;
  private unsubscribeHosts = () => {};
  private status: ActorRuntimeStatus["runtimeStatus"] = "INITIALIZING";

  constructor(private readonly opts: ActorsBlockOptions) {
    this.clock = opts.clock ?? realClock;
    this.log = opts.logger ?? silentLogger;
    this.placement = new HashPlacement(opts.hosts, opts.self);
    this.state = new ActorState(opts.appId, opts.stateStore, (t, i) => void this.table.drain(t, i));
    this.table = new ActorTable({
      clock: this.clock,
      placement: this.placement,
      logger: this.log,
      typeConfig: (actorType) => this.config.types.get(actorType),
      hooks: {
        activate: (t, i) => this.state.claim(t, i),
        deactivate: (t, i) => this.deactivated(t, i),
      },
    });
    this.timers = new TimerEngine<TimerData>({
      clock: this.clock,
      fire: (entry) => this.fireTimer(entry),
      failurePolicy: { drop: true },
      onError: (err, c) => this.log.warn("actor timer failed", { timer: c.key, error: messageOf(err) }),
    });
  }

  /** Reads the app's actor config, loads this node's reminders and starts the idle scanner. */
  async start(): Promise<void> {
    await this.reloadConfig();
    const resolved = this.opts.stateStore();
    if (resolved) {
      this.reminderStore = new StateTimerStore(resolved.store, `${REMINDER_NAMESPACE}${this.opts.appId}||`);
      this.reminders = new TimerEngine<TimerData>({
        clock: this.clock,
        store: this.reminderStore,
        owns: (key) => this.ownsKey(key),
        fire: (entry) => this.fireReminder(entry),
        onError: (err, c) => this.log.warn("actor reminder failed", { reminder: c.key, op: c.op, error: messageOf(err) }),
      });
      await this.reminders.start();
    }
    await this.timers.start();
    this.unsubscribeHosts = this.opts.hosts.onChange(() => void this.reminders?.ownershipChanged());
    this.status = "RUNNING";
  }

  /** Re-reads GET /dapr/config (at start, and whenever the app comes back healthy: it may have restarted). */
  async reloadConfig(): Promise<void> {
    try {
      this.config = await this.opts.app.readConfig();
    } catch (err) {
      this.log.warn("could not read the app's actor config (/dapr/config); it hosts no actors until it answers", { error: messageOf(err) });
      this.config = NO_ACTORS;
    }
    this.opts.announce?.([...this.config.types.keys()]);
    if (this.config.types.size > 0) this.table.startIdleScanner(this.config.scanIntervalMs);
    await this.reminders?.ownershipChanged();
  }

  /** Deactivates every actor (the app hears DELETE for each), stops timers; reminders stay stored. */
  async stop(): Promise<void> {
    this.status = "DISABLED";
    this.unsubscribeHosts();
    await this.table.close();
    await Promise.all([this.timers.close(), this.reminders?.close()]);
    this.placement.close();
  }

  /** The types this node's app hosts. */
  hostedTypes(): string[] {
    return [...this.config.types.keys()];
  }

  /** actorRuntime for the metadata API, in daprd's shape. */
  runtimeStatus(): ActorRuntimeStatus {
    const counts = this.table.counts();
    const activeActors = this.hostedTypes().map((type) => ({ type, count: counts[type] ?? 0 }));
    const connected = this.opts.hosts.view().hosts.some((h) => h.id === this.opts.self) || activeActors.length === 0;
    return {
      runtimeStatus: this.status,
      activeActors,
      hostReady: this.status === "RUNNING" && connected,
      placement: connected ? "placement: connected" : "placement: disconnected",
    };
  }

  // ---- invocation ----

  /** InvokeActor: runs the method on the actor here, or forwards it to the sidecar that owns it. */
  invoke(request: ActorInvokeRequest, signal?: AbortSignal): Promise<ActorInvokeResponse> {
    checkName("actor type", request.actorType);
    checkName("actor id", request.actorId);
    checkMethod(request.method);
    return this.route(request, 0, signal);
  }

  /** A call another sidecar forwarded here (the forwarder adapter's receiving end). */
  async receive(call: ForwardedCall, signal?: AbortSignal): Promise<ActorInvokeResponse | undefined> {
    if (call.kind === "invoke") return this.route(call.request, call.hops, signal);
    await this.scheduleReminder(call.request, call.hops);
    return undefined;
  }

  private async route(request: ActorInvokeRequest, hops: number, signal?: AbortSignal): Promise<ActorInvokeResponse> {
    const { actorType, actorId } = request;
    const owner = this.placement.locate(actorType, actorId);
    if (!owner) throw actorErrors.noAddress(actorKey(actorType, actorId));
    if (owner.host !== this.opts.self) return this.forward(owner, { kind: "invoke", request, hops }, signal) as Promise<ActorInvokeResponse>;
    try {
      return await this.table.call(actorType, actorId, (ctx) => this.callApp(request, ctx), { reentrancyId: request.reentrancyId, signal });
    } catch (err) {
      if (err instanceof ActorMovedError && err.owner && err.owner.host !== this.opts.self) {
        return this.forward(err.owner, { kind: "invoke", request, hops }, signal) as Promise<ActorInvokeResponse>;
      }
      throw toDaprError(err);
    }
  }

  private async forward(owner: Location, call: ForwardedCall, signal?: AbortSignal): Promise<ActorInvokeResponse | undefined> {
    const { actorType, actorId } = call.request;
    if (!this.opts.forwarder || call.hops + 1 >= MAX_HOPS) throw actorErrors.noAddress(actorKey(actorType, actorId));
    const next = { ...call, hops: call.hops + 1 };
    try {
      return await this.opts.forwarder.forward(owner, next, signal);
    } catch (err) {
      // The owner's sidecar died (its host left the view): the call goes to the new owner. Not a hop, as it reached
      // nobody; each such retry needs one host fewer in the view, so they end.
      if (!(err instanceof OwnerUnreachableError) || this.opts.hosts.view().hosts.some((h) => h.id === owner.host)) throw err;
      if (call.kind === "invoke") return this.route(call.request, call.hops, signal);
      await this.scheduleReminder(call.request, call.hops);
      return undefined;
    }
  }

  private async callApp(request: ActorInvokeRequest, ctx: TurnContext): Promise<ActorInvokeResponse> {
    try {
      const res = await this.opts.app.invokeMethod(request.actorType, request.actorId, request.method, {
        headers: request.headers,
        body: request.body,
        query: request.query,
        reentrancyId: ctx.reentrancyId,
        signal: ctx.signal,
      });
      return { status: res.status, headers: res.headers, body: res.body };
    } catch (err) {
      // An actor error the app reported in its own shape goes back as it came (daprd's ActorError).
      if (err instanceof ActorAppError && err.response.headers[ERROR_RESPONSE_HEADER] !== undefined) return err.response;
      if (err instanceof DaprError) throw err;
      throw actorErrors.invokeMethod(messageOf(err));
    }
  }

  private async deactivated(actorType: string, actorId: string): Promise<void> {
    await this.timers.cancelPrefix(`${actorType}||${actorId}||`);
    try {
      await this.opts.app.deactivate(actorType, actorId);
    } finally {
      this.state.release(actorType, actorId);
    }
  }

  // ---- state ----

  /** GetActorState: undefined when the key has no value (HTTP 204, gRPC empty data). */
  getState(actorType: string, actorId: string, key: string): Promise<ActorStateValue | undefined> {
    this.checkActor(actorType, actorId);
    if (typeof key !== "string" || key === "") throw actorErrors.badRequest("state key is empty");
    return this.state.get(actorType, actorId, key);
  }

  /** ExecuteActorStateTransaction, for an actor active on this node (daprd: ERR_ACTOR_INSTANCE_MISSING otherwise). */
  async transaction(actorType: string, actorId: string, ops: readonly ActorStateOp[]): Promise<void> {
    this.checkActor(actorType, actorId);
    if (!Array.isArray(ops)) throw actorErrors.malformedRequest("the body must be a list of operations");
    await this.state.transact(actorType, actorId, ops);
  }

  // ---- timers ----

  /** RegisterActorTimer: for an actor active here; it ends with the activation. */
  async registerTimer(req: RegisterTimerRequest): Promise<void> {
    this.checkActor(req.actorType, req.actorId);
    checkName("timer name", req.name);
    const data = checkData(req.data);
    if (!this.table.isActive(req.actorType, req.actorId)) throw actorErrors.instanceMissing();
    const plan = timePlan(() => actorTimerPlan(req, this.clock.now()), "ERR_ACTOR_TIMER_CREATE", "error creating actor timer");
    const entry: TimerData = {
      actorType: req.actorType, actorId: req.actorId, name: req.name,
      dueTime: req.dueTime ?? "", period: req.period ?? "", ttl: req.ttl ?? "", data, callback: req.callback ?? "",
    };
    await this.timers.schedule(timerKey(req.actorType, req.actorId, req.name), { ...plan, data: entry });
  }

  async unregisterTimer(actorType: string, actorId: string, name: string): Promise<void> {
    this.checkActor(actorType, actorId);
    checkName("timer name", name);
    await this.timers.cancel(timerKey(actorType, actorId, name));
  }

  private async fireTimer(entry: Readonly<TimerEntry<TimerData>>): Promise<void> {
    const d = entry.data!;
    if (!this.table.isActive(d.actorType, d.actorId)) return this.timers.cancel(entry.key);
    await this.table.call(d.actorType, d.actorId, (ctx) =>
      this.opts.app.timer(d.actorType, d.actorId, d.name, { callback: d.callback, data: d.data, dueTime: d.dueTime, period: d.period }, ctx.signal),
    );
  }

  // ---- reminders ----

  /** RegisterActorReminder: persisted, then held by the sidecar that owns the actor. */
  async registerReminder(req: RegisterReminderRequest): Promise<void> {
    this.checkActor(req.actorType, req.actorId);
    checkName("reminder name", req.name);
    await this.scheduleReminder(req, 0);
  }

  private async scheduleReminder(req: RegisterReminderRequest, hops: number): Promise<void> {
    const engine = this.reminderEngine(req.actorType);
    const data = checkData(req.data);
    const plan = timePlan(() => reminderPlan(req, this.clock.now()), "ERR_ACTOR_REMINDER_CREATE", "error creating actor reminder");
    const owner = this.placement.locate(req.actorType, req.actorId);
    if (owner && owner.host !== this.opts.self && this.opts.forwarder && hops + 1 < MAX_HOPS) {
      await this.forward(owner, { kind: "registerReminder", request: req, hops });
      return;
    }
    const key = timerKey(req.actorType, req.actorId, req.name);
    if (req.overwrite === false && (await this.reminderStore!.get(key))) throw actorErrors.reminderAlreadyExists(req.name);
    const entry: TimerData = {
      actorType: req.actorType, actorId: req.actorId, name: req.name,
      dueTime: req.dueTime ?? "", period: req.period ?? "", ttl: req.ttl ?? "", data,
    };
    try {
      await engine.schedule(key, { ...plan, data: entry });
    } catch (err) {
      throw actorErrors.reminderCreate(messageOf(err));
    }
  }

  /** GetActorReminder: ERR_ACTOR_REMINDER_NOT_FOUND when there is none. */
  async getReminder(actorType: string, actorId: string, name: string): Promise<ReminderInfo> {
    this.checkActor(actorType, actorId);
    checkName("reminder name", name);
    this.reminderEngine(actorType);
    let entry;
    try {
      entry = await this.reminderStore!.get(timerKey(actorType, actorId, name));
    } catch (err) {
      throw actorErrors.reminderGet(messageOf(err));
    }
    if (!entry) throw actorErrors.reminderNotFound(name);
    return reminderInfo(entry as TimerEntry<TimerData>);
  }

  /** ListActorReminders: the type's reminders, or one actor's. */
  async listReminders(actorType: string, actorId?: string): Promise<ReminderInfo[]> {
    checkName("actor type", actorType);
    rejectReserved(actorType);
    if (actorId !== undefined) checkName("actor id", actorId);
    this.reminderEngine(actorType);
    const out: ReminderInfo[] = [];
    try {
      for await (const page of this.reminderStore!.list(actorId === undefined ? `${actorType}||` : `${actorType}||${actorId}||`)) {
        for (const e of page) out.push(reminderInfo(e as TimerEntry<TimerData>));
      }
    } catch (err) {
      throw actorErrors.reminderGet(messageOf(err));
    }
    return out.sort((a, b) => (a.actorId === b.actorId ? cmp(a.name, b.name) : cmp(a.actorId, b.actorId)));
  }

  async unregisterReminder(actorType: string, actorId: string, name: string): Promise<void> {
    this.checkActor(actorType, actorId);
    checkName("reminder name", name);
    const engine = this.reminderEngine(actorType);
    try {
      await engine.cancel(timerKey(actorType, actorId, name));
    } catch (err) {
      throw actorErrors.reminderDelete(messageOf(err));
    }
  }

  /** UnregisterActorRemindersByType: every reminder of the type, or of one actor of it. Returns how many. */
  async unregisterRemindersByType(actorType: string, actorId?: string): Promise<number> {
    checkName("actor type", actorType);
    rejectReserved(actorType);
    if (actorId !== undefined) checkName("actor id", actorId);
    const engine = this.reminderEngine(actorType);
    try {
      return await engine.cancelPrefix(actorId === undefined ? `${actorType}||` : `${actorType}||${actorId}||`);
    } catch (err) {
      throw actorErrors.reminderDelete(messageOf(err));
    }
  }

  private async fireReminder(entry: Readonly<TimerEntry<TimerData>>): Promise<void> {
    // Another sidecar may have unregistered it: the store is the truth.
    if (!(await this.reminderStore!.get(entry.key))) return this.reminders!.cancel(entry.key);
    const d = entry.data!;
    const res = await this.table.call(d.actorType, d.actorId, (ctx) =>
      this.opts.app.reminder(d.actorType, d.actorId, d.name, { data: d.data, dueTime: d.dueTime, period: d.period }, ctx.signal),
    );
    if (isTruthy(res.headers[REMINDER_CANCEL_HEADER])) await this.reminders!.cancel(entry.key);
  }

  private reminderEngine(actorType: string): TimerEngine<TimerData> {
    rejectReserved(actorType);
    if (!this.reminders) throw actorErrors.runtimeNotFound();
    if (!this.config.types.has(actorType)) throw actorErrors.reminderNonHosted();
    return this.reminders;
  }

  private ownsKey(key: string): boolean {
    const { actorType, actorId } = actorOfKey(key);
    return this.placement.locate(actorType, actorId)?.host === this.opts.self;
  }

  private checkActor(actorType: string, actorId: string): void {
    checkName("actor type", actorType);
    checkName("actor id", actorId);
    rejectReserved(actorType);
  }
}

/** A dueTime/period/ttl refusal is the caller's mistake: daprd's code, with 400 rather than its 500. */
function timePlan(plan: () => TimerPlan, code: string, what: string): TimerPlan {
  try {
    return plan();
  } catch (err) {
    if (err instanceof TimeFormatError) throw inputError(code, `${what}: ${err.message}`);
    throw err;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
