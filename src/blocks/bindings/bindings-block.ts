// The bindings building block: output bindings the app calls (under the component's outbound resiliency policy),
// and input bindings whose events it hands to the app (under the inbound policy).
import { Slot } from "../../runtime/block.js";
import type { AppChannel } from "../../app/channel.js";
import { BindingRequestError, type BindingEventHandler, type BindingResponse, type InputReader, type OutputBinding } from "../../components/contracts/bindings.js";
import type { ComponentRegistry } from "../../components/registry.js";
import { errors, messageOf } from "../../errors.js";
import type { Logger } from "../../observability/logger.js";
import { Resiliency } from "../../resiliency/index.js";
import { InFlight, settlesWithin, sleepUnless } from "../../resiliency/sleep.js";
import { bindingInfo, type BindingInfo } from "./binding-spec.js";
import { appListens, deliverEvent, type AppAnswer, type Forward } from "./delivery.js";

/** How long stop() lets deliveries in flight finish before it cuts them off (the runtime passes its own grace). */
const STOP_GRACE_MS = 5_000;
/** After the cut-off, how long stop() still waits for readers to close before it gives up on them. */
const AFTER_CUT_OFF_MS = 2_000;

/** The wait before the next attempt to start an input binding: 250 ms, doubling, at most 10 s. */
const startRetryMs = (attempt: number) => Math.min(10_000, 250 * 2 ** Math.min(attempt - 1, 6));

/** Fires when either fires; either may be missing. */
const either = (a: AbortSignal | undefined, b: AbortSignal | undefined) => (a && b ? AbortSignal.any([a, b]) : (a ?? b));

/** Headers that say how a gRPC call travelled, not what it is about: never copied into a binding's metadata. */
const TRANSPORT_HEADERS = new Set([
  "dapr-api-token", "content-type", "content-length", "user-agent", "te", "host", "connection", "keep-alive",
  "transfer-encoding", "upgrade", "accept-encoding", "x-user-agent", "x-grpc-web",
]);

const copiedFromGrpc = (key: string) =>
  !TRANSPORT_HEADERS.has(key) && !key.startsWith(":") && !key.startsWith("grpc-") && !key.startsWith("connect-") && !key.endsWith("-bin");

/**
 * An output binding call's metadata with what the caller's headers add, as daprd does: over HTTP the W3C trace
 * context; over gRPC every metadata entry but dapr-api-token, the transport's own (grpc-*, connect-*, content-type,
 * user-agent, …) and binary (-bin) ones. The request's own metadata wins over a header of the same name.
 */
export function withCallerMetadata(metadata: Record<string, string>, headers: Headers, api: "http" | "grpc"): Record<string, string> {
  const out = { ...metadata };
  headers.forEach((value, key) => {
    const copied = api === "http" ? key === "traceparent" || key === "tracestate" : copiedFromGrpc(key);
    if (copied && out[key] === undefined) out[key] = value;
  });
  return out;
}

export class BindingsBlock {
  private readonly bindings = new Map<string, BindingInfo>();
  private readonly readers: { name: string; reader: InputReader }[] = [];
  /** One per input binding: its attempts to start, until it started, the app said no, or stop() began. */
  private readonly starts: Promise<void>[] = [];
  /** Aborted when stop() begins: no binding starts any more and no new event goes to the app. */
  private readonly stopping = new AbortController();
  /** Aborted once stop() stops waiting for deliveries in flight. */
  private readonly cutOff = new AbortController();
  /** Events held back while the app is unhealthy, woken when it is healthy again or stop() begins. */
  private readonly healthWaiters = new Set<() => void>();
  /** The app's answers being sent on to output bindings in parallel (`concurrency: PARALLEL`). */
  private readonly sending = new InFlight();
  private stopped?: Promise<void>;

  constructor(
    registry: ComponentRegistry,
    private readonly logger: Logger,
    /** targets.components.<binding>: outbound for output calls, inbound for handing input events to the app. */
    private readonly resiliency = new Resiliency(),
  ) {
    for (const lc of registry.list("bindings")) {
      let info: BindingInfo;
      try {
        info = bindingInfo(lc);
      } catch (err) {
        if (!lc.spec.ignoreErrors) throw err;
        // Left out as if it had failed to load: nothing calls or reads it, so nothing it opened stays open.
        logger.warn("binding ignored and closed (spec.ignoreErrors)", { binding: lc.spec.name, error: messageOf(err) });
        registry.remove(lc.family, lc.spec.name);
        lc.instance.close().catch((e: unknown) => logger.warn("ignored binding did not close cleanly", { binding: lc.spec.name, error: messageOf(e) }));
        continue;
      }
      for (const d of info.unsupported) logger.warn(`binding ${info.name}: direction "${d}" ignored, ${info.type} does not implement it`);
      this.bindings.set(info.name, info);
    }
  }

  /** Dapr's capabilities for GET /v1.0/metadata: INPUT_BINDING and/or OUTPUT_BINDING; undefined for other names. */
  capabilities(name: string): string[] | undefined {
    const b = this.bindings.get(name);
    if (!b) return undefined;
    return [...(b.input ? ["INPUT_BINDING"] : []), ...(b.output ? ["OUTPUT_BINDING"] : [])];
  }

  inputBindings(): BindingInfo[] {
    return [...this.bindings.values()].filter((b) => b.input);
  }

  private outputBinding(name: string): OutputBinding {
    const b = this.bindings.get(name);
    if (!b) {
      const known = [...this.bindings.values()].filter((x) => x.output).map((x) => x.name);
      throw errors.invokeOutputBinding(name, `couldn't find output binding ${name}${known.length ? ` (output bindings: ${known.join(", ")})` : " (no output bindings are loaded)"}`);
    }
    if (!b.output) throw errors.invokeOutputBinding(name, `binding ${name} (${b.type}) is not an output binding; its direction is input only`);
    return b.instance as OutputBinding;
  }

  /**
   * Calls an output binding; `signal` is the caller's (aborted when the caller leaves: a retry backoff ends then, and
   * the abandoned attempt does not count in the circuit breaker). Undefined when the plugin answered nothing at all.
   */
  async invoke(name: string, operation: string, data: Uint8Array, metadata: Record<string, string>, signal?: AbortSignal): Promise<BindingResponse | undefined> {
    const out = this.outputBinding(name);
    if (!operation) throw errors.invokeOutputBinding(name, "operation field is missing from request");
    const supported = out.operations();
    if (!supported.includes(operation)) {
      throw errors.invokeOutputBinding(name, `binding ${name} does not support operation ${operation}; supported operations: ${supported.join(", ")}`);
    }
    try {
      const res = await this.resiliency.run(
        { component: name, direction: "outbound" },
        (policySignal) => out.invoke({ operation, data, metadata, signal: either(signal, policySignal) }),
        // A request the binding can never serve is not retried, nor one whose caller has left.
        { permanent: (err) => err instanceof BindingRequestError || signal?.aborted === true, stop: signal },
      );
      return res ?? undefined;
    } catch (err) {
      throw errors.invokeOutputBinding(name, messageOf(err));
    }
  }

  /**
   * Starts every input binding the app listens to: asked with OPTIONS /{route} (HTTP) or ListInputBindings (gRPC),
   * unless the component's `direction` names "input". Call once the app's port is open. An app that cannot be asked
   * yet, or a read() that fails, is tried again with backoff until `signal` or stop(); an app that says no is final.
   * Resolves once every binding started, was declined, or gave up because the sidecar is stopping.
   */
  async startInputs(app: AppChannel, signal: AbortSignal): Promise<void> {
    const stop = either(signal, this.stopping.signal)!;
    app.onHealthChange((healthy) => healthy && this.wakeHealthWaiters());
    const grpcNames: { cached?: Promise<Set<string>> } = {};
    // All at once: a binding whose read() hangs must not hold the others back.
    for (const b of this.inputBindings()) if (!stop.aborted) this.starts.push(this.startUntilStopped(app, b, stop, grpcNames));
    await Promise.allSettled(this.starts);
  }

  private async startUntilStopped(app: AppChannel, b: BindingInfo, stop: AbortSignal, grpcNames: { cached?: Promise<Set<string>> }): Promise<void> {
    for (let attempt = 1; !stop.aborted; attempt++) {
      try {
        return await this.startOnce(app, b, stop, grpcNames);
      } catch (err) {
        if (stop.aborted) return;
        const retryInMs = startRetryMs(attempt);
        this.logger.error("input binding not started; retrying", { binding: b.name, attempt, retry_in_ms: retryInMs, error: messageOf(err) });
        await sleepUnless(retryInMs, stop);
      }
    }
  }

  private async startOnce(app: AppChannel, b: BindingInfo, stop: AbortSignal, grpcNames: { cached?: Promise<Set<string>> }): Promise<void> {
    if (!b.inputDeclared && !(await appListens(app, b, stop, grpcNames))) {
      this.logger.info("the app does not listen to this input binding; its events are not delivered", { binding: b.name, route: `/${b.route}` });
      return;
    }
    if (stop.aborted) return;
    const reader = await b.instance.read!(this.handlerFor(app, b));
    if (stop.aborted) return void (await reader.close()); // stop() began while read() ran
    this.readers.push({ name: b.name, reader });
    this.logger.info("input binding started", { binding: b.name, type: b.type, route: `/${b.route}` });
  }

  /**
   * Each event waits while the app is unhealthy (--enable-app-health-check), then goes to the app under the
   * component's inbound policy: a refused delivery is retried there first, until stop() cuts it off.
   */
  private handlerFor(app: AppChannel, b: BindingInfo): BindingEventHandler {
    const target = { component: b.name, direction: "inbound" as const };
    const cutOff = this.cutOff.signal;
    return async (event) => {
      await this.untilAppHealthy(app, b);
      let answer: AppAnswer;
      try {
        answer = await this.resiliency.run(target, (policySignal) => deliverEvent(app, b, event, either(cutOff, policySignal)!), {
          permanent: () => cutOff.aborted,
          stop: cutOff,
        });
      } catch (err) {
        this.logger.debug("input binding event not accepted by the app", { binding: b.name, error: messageOf(err) });
        throw err;
      }
      if (answer.forward) await this.forward(b.name, answer.forward);
      return answer.body;
    };
  }

  /**
   * Sends the app's answer on to the output bindings it named, as daprd does: operation `create`, each call under its
   * binding's outbound policy. A failure is logged and never fails the event, which the app has handled already.
   */
  private async forward(from: string, f: Forward): Promise<void> {
    const send = (to: string) =>
      this.invoke(to, "create", f.data, {}, this.cutOff.signal).then(
        () => true,
        (err: unknown) => {
          this.logger.error("the app's answer to an input event was not sent to the output binding it named", { binding: from, to, error: messageOf(err) });
          return false;
        },
      );
    if (f.parallel) {
      for (const to of f.to) void this.sending.track(send(to));
      return;
    }
    for (const to of f.to) if (!(await send(to))) return;
  }

  /** Holds an event back (and so its reader) while the app is unhealthy; rejects once stop() began. */
  private async untilAppHealthy(app: AppChannel, b: BindingInfo): Promise<void> {
    for (;;) {
      if (this.stopping.signal.aborted) throw new Error(`input binding ${b.name}: the sidecar is stopping`);
      if (app.isHealthy()) return;
      this.logger.debug("the app is unhealthy: the input binding's event waits", { binding: b.name });
      await new Promise<void>((wake) => this.healthWaiters.add(wake));
    }
  }

  private wakeHealthWaiters(): void {
    const waiters = [...this.healthWaiters];
    this.healthWaiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Stops taking events: no binding starts any more, every reader closes, and deliveries in flight (with the app's
   * answers being sent on) get `graceMs` to finish before they are cut off (a retry backoff ends then too). Readers
   * still not closed `afterCutOffMs` later are given up on with a warning, so stop() always returns. Calling it again
   * returns the same promise.
   */
  stop(graceMs = STOP_GRACE_MS, afterCutOffMs = AFTER_CUT_OFF_MS): Promise<void> {
    return (this.stopped ??= this.stopNow(graceMs, afterCutOffMs));
  }

  private async stopNow(graceMs: number, afterCutOffMs: number): Promise<void> {
    this.stopping.abort(new Error("the sidecar is stopping"));
    this.wakeHealthWaiters();
    const readers = this.readers.splice(0);
    const closing = Promise.allSettled([
      ...this.starts, // end at once, or close the reader a read() still running hands back
      ...readers.map(({ name, reader }) => reader.close().catch((err: unknown) => {
        this.logger.warn("input binding did not close cleanly", { binding: name, error: messageOf(err) });
      })),
    ]).then(() => this.sending.idle()); // including sends a delivery still finishing starts
    if (await settlesWithin(closing, graceMs)) return;
    this.cutOff.abort(new Error("the sidecar is stopping"));
    if (await settlesWithin(closing, afterCutOffMs)) return;
    this.logger.warn("input bindings did not close after their deliveries were cut off; the sidecar stops without them", {
      bindings: readers.map((r) => r.name).join(", "),
      waited_ms: graceMs + afterCutOffMs,
    });
  }
}

/** The running bindings block, for the API fronts. */
export const bindingsSlot = new Slot<BindingsBlock>("bindings");
