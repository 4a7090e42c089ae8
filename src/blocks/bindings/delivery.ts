// Input bindings and the app: asking whether it listens (HTTP OPTIONS /{route}, gRPC ListInputBindings) and handing
// it one event (HTTP POST /{route}, gRPC OnBindingEvent).
import { Code, ConnectError } from "@connectrpc/connect";
import { BindingEventResponse_BindingEventConcurrency as Concurrency } from "../../gen/dapr/proto/runtime/v1/appcallback_pb.js";
import { AppUnavailableError, type AppChannel } from "../../app/channel.js";
import { deadlineIn, msLeft } from "../../app/deadline.js";
import type { BindingEvent } from "../../components/contracts/bindings.js";
import { messageOf } from "../../errors.js";
import type { BindingInfo } from "./binding-spec.js";

/** How long the app may take to answer OPTIONS or ListInputBindings (Dapr's default is 3 s). */
export const PROBE_TIMEOUT_MS = 3_000;
/** How long one delivery may take when no resiliency timeout is shorter. */
export const DELIVERY_TIMEOUT_MS = 60_000;

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What Headers.set accepts (fetch() to an https app throws on anything else): tab, visible ASCII, Latin-1. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Set by the sidecar itself; an event's metadata never overrides them. */
const RESERVED = new Set(["content-type", "content-length", "dapr-api-token", "host", "connection", "transfer-encoding"]);

export class AppRefusedEventError extends Error {
  constructor(binding: string, what: string) {
    super(`input binding ${binding}: ${what}`);
    this.name = "AppRefusedEventError";
  }
}

/** An event's metadata as request headers; entries that cannot be headers are left out. */
export function eventHeaders(event: BindingEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.metadata)) {
    if (HEADER_NAME.test(k) && HEADER_VALUE.test(v) && !RESERVED.has(k.toLowerCase())) headers[k] = v;
  }
  headers["content-type"] = event.contentType || "application/json";
  return headers;
}

/** HTTP app: 2xx or 405 to OPTIONS /{route} means it listens, anything else (404 above all) that it does not. */
async function httpAppListens(app: AppChannel, b: BindingInfo, signal: AbortSignal): Promise<boolean> {
  const res = await app.invoke({ method: "OPTIONS", path: b.route, headers: {}, deadline: deadlineIn(PROBE_TIMEOUT_MS), signal });
  return (res.status >= 200 && res.status <= 299) || res.status === 405;
}

/** gRPC app: the names ListInputBindings returns (none when the app does not implement it). */
export async function grpcInputBindings(app: AppChannel, signal: AbortSignal): Promise<Set<string>> {
  if (!app.callback) return new Set();
  try {
    const res = await app.callback.listInputBindings({}, { signal, timeoutMs: PROBE_TIMEOUT_MS });
    return new Set(res.bindings);
  } catch (err) {
    const ce = ConnectError.from(err);
    if (ce.code === Code.Unimplemented) return new Set();
    throw new AppUnavailableError(`app did not answer ListInputBindings: ${ce.rawMessage}`);
  }
}

/**
 * Asks the app once whether it listens to `b`; a gRPC app is asked once for all its bindings (cached). Rejects with
 * AppUnavailableError when the app could not be asked (not up yet, too slow): the caller tries again later.
 */
export async function appListens(app: AppChannel, b: BindingInfo, signal: AbortSignal, grpcNames: { cached?: Promise<Set<string>> }): Promise<boolean> {
  try {
    if (app.protocol === "http") return await httpAppListens(app, b, signal);
    // One question for all bindings starting at once; a failed answer is asked again by the next attempt.
    const asking = (grpcNames.cached ??= grpcInputBindings(app, signal));
    asking.catch(() => grpcNames.cached === asking && (grpcNames.cached = undefined));
    return (await asking).has(b.name);
  } catch (err) {
    const how = app.protocol === "http" ? `OPTIONS /${b.route}` : "ListInputBindings";
    throw new AppUnavailableError(`could not ask the app whether it listens to input binding ${b.name} (${how}): ${messageOf(err)}`);
  }
}

/** What the app asked for in its answer to an event: its data sent to these output bindings (gRPC apps only, as daprd). */
export interface Forward {
  to: string[];
  data: Uint8Array;
  /** All at once without waiting; otherwise one after the other, before the event counts as handled, up to the first failure. */
  parallel: boolean;
}

export interface AppAnswer {
  body: Uint8Array;
  forward?: Forward;
}

/** Hands one event to the app; resolves with the app's answer, rejects unless the app accepted the event. */
export async function deliverEvent(app: AppChannel, b: BindingInfo, event: BindingEvent, signal: AbortSignal): Promise<AppAnswer> {
  const deadline = deadlineIn(DELIVERY_TIMEOUT_MS);
  if (app.protocol === "grpc") {
    if (!app.callback) throw new AppUnavailableError("no app port configured (--app-port)");
    const req = { name: b.name, data: event.data, metadata: event.metadata };
    const res = await app.run(() => app.callback!.onBindingEvent(req, { signal, timeoutMs: msLeft(deadline, `OnBindingEvent(${b.name})`) }));
    const forward = res.to.length ? { to: res.to, data: res.data, parallel: res.concurrency === Concurrency.PARALLEL } : undefined;
    return { body: res.data, forward };
  }
  const res = await app.invoke({ method: "POST", path: b.route, headers: eventHeaders(event), body: event.data, deadline, signal });
  if (res.status < 200 || res.status > 299) {
    const body = new TextDecoder().decode(res.body.subarray(0, 200));
    throw new AppRefusedEventError(b.name, `the app answered POST /${b.route} with ${res.status}${body ? `: ${body}` : ""}`);
  }
  return { body: res.body };
}
