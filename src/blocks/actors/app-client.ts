// The sidecar's calls into its app for actors, as daprd makes them over HTTP (pkg/actors/targets/app/transport/
// http): GET /dapr/config, PUT /actors/{type}/{id}/method/{method} (every verb arrives as PUT),
// PUT .../method/timer/{name} and .../method/remind/{name} with a JSON body, DELETE /actors/{type}/{id}.
// Only HTTP apps host actors: daprd's gRPC app channel has no actor callbacks the SDKs serve, so with a gRPC app
// the app hosts no actor types (it can still call actors).
import type { AppRequest, AppResponse } from "../../app/channel.js";
import { messageOf } from "../../errors.js";
import { silentLogger, type Logger } from "../../observability/logger.js";
import { NO_ACTORS, parseAppActorConfig, type AppActorConfig } from "./app-config.js";
import { actorErrors } from "./errors.js";

/** What the actor runtime needs of the app channel (src/app/channel.ts AppChannel). */
export interface ActorAppChannel {
  readonly configured: boolean;
  readonly protocol: "http" | "grpc";
  http(req: AppRequest): Promise<AppResponse>;
}

/** The header through which the .NET SDK reports an actor method's failure with a 200 (daprd passes it through). */
export const ERROR_RESPONSE_HEADER = "x-daprerrorresponseheader";
/** A reminder callback's answer with this header set to a truthy value cancels the reminder. */
export const REMINDER_CANCEL_HEADER = "x-daprremindercancel";
export const REENTRANCY_HEADER = "dapr-reentrancy-id";

export interface MethodCall {
  headers: Record<string, string>;
  body: Uint8Array;
  query?: string;
  /** The turn's Dapr-Reentrancy-Id; sent to the app when the type has reentrancy enabled. */
  reentrancyId?: string;
  signal?: AbortSignal;
}

/** What a timer or reminder fire sends (daprd's TimerResponse / ReminderResponse JSON). */
export interface FireBody {
  /** The registration's `data` as JSON text, sent as is. */
  data?: string;
  dueTime: string;
  period: string;
  /** Timers only. */
  callback?: string;
}

/** The app answered with an actor error (a non-200, or the .NET error header): the caller gets it as it came. */
export class ActorAppError extends Error {
  constructor(readonly response: AppResponse) {
    super(`error from actor service: (${response.status}) ${new TextDecoder().decode(response.body.subarray(0, 512))}`);
    this.name = "ActorAppError";
  }
}

const JSON_HEADERS = { "content-type": "application/json" };
const seg = encodeURIComponent;

export class ActorAppClient {
  private readonly log: Logger;

  constructor(private readonly channel: ActorAppChannel, logger?: Logger) {
    this.log = logger ?? silentLogger;
  }

  /** Whether this app can host actors at all: an HTTP app channel. */
  get canHost(): boolean {
    return this.channel.configured && this.channel.protocol === "http";
  }

  /** GET /dapr/config. An app without actors (404, no JSON) hosts no types; an unreachable one fails. */
  async readConfig(signal?: AbortSignal): Promise<AppActorConfig> {
    if (!this.canHost) return NO_ACTORS;
    const res = await this.channel.http({ method: "GET", path: "dapr/config", headers: {}, signal });
    if (res.status !== 200) return NO_ACTORS;
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(res.body));
    } catch (err) {
      this.log.warn("the app's /dapr/config is not JSON; it hosts no actors", { error: messageOf(err) });
      return NO_ACTORS;
    }
    return parseAppActorConfig(body, this.log);
  }

  /** One actor method call. A 200 is the answer; anything else throws ActorAppError (404: no such method). */
  async invokeMethod(actorType: string, actorId: string, method: string, call: MethodCall): Promise<AppResponse> {
    const headers = { ...call.headers };
    if (call.reentrancyId) headers["Dapr-Reentrancy-Id"] = call.reentrancyId;
    const res = await this.call({
      method: "PUT",
      path: `actors/${seg(actorType)}/${seg(actorId)}/method/${method.split("/").map(seg).join("/")}`,
      query: call.query,
      headers,
      body: call.body,
      signal: call.signal,
    });
    if (res.status !== 200 || res.headers[ERROR_RESPONSE_HEADER] !== undefined) throw new ActorAppError(res);
    return res;
  }

  /** A timer fire: PUT .../method/timer/{name}. */
  timer(actorType: string, actorId: string, name: string, body: FireBody, signal?: AbortSignal): Promise<AppResponse> {
    return this.fire(actorType, actorId, `timer/${seg(name)}`, body, signal);
  }

  /** A reminder fire: PUT .../method/remind/{name}. The answer's X-DaprReminderCancel header cancels it. */
  reminder(actorType: string, actorId: string, name: string, body: FireBody, signal?: AbortSignal): Promise<AppResponse> {
    return this.fire(actorType, actorId, `remind/${seg(name)}`, body, signal);
  }

  /** DELETE /actors/{type}/{id}: the actor was deactivated (idle, moved, or the sidecar stops). */
  async deactivate(actorType: string, actorId: string): Promise<void> {
    const res = await this.call({ method: "DELETE", path: `actors/${seg(actorType)}/${seg(actorId)}`, headers: {} });
    if (res.status !== 200) throw new ActorAppError(res);
  }

  private async fire(actorType: string, actorId: string, tail: string, body: FireBody, signal?: AbortSignal): Promise<AppResponse> {
    const res = await this.call({
      method: "PUT",
      path: `actors/${seg(actorType)}/${seg(actorId)}/method/${tail}`,
      headers: JSON_HEADERS,
      body: new TextEncoder().encode(fireJson(body)),
      signal,
    });
    if (res.status !== 200) throw new ActorAppError(res);
    return res;
  }

  private call(req: AppRequest): Promise<AppResponse> {
    if (!this.canHost) throw actorErrors.noAppChannel();
    return this.channel.http(req);
  }
}

/** daprd's field order and omissions: data (raw JSON) only when set, then dueTime, period, and callback for timers. */
function fireJson(body: FireBody): string {
  const parts: string[] = [];
  if (body.callback !== undefined) parts.push(`"callback":${JSON.stringify(body.callback)}`);
  if (body.data !== undefined && body.data !== "") parts.push(`"data":${body.data}`);
  parts.push(`"dueTime":${JSON.stringify(body.dueTime)}`, `"period":${JSON.stringify(body.period)}`);
  return `{${parts.join(",")}}`;
}

export function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "t", "yes", "y", "on"].includes(v.trim().toLowerCase());
}
