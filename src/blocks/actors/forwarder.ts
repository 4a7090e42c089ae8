// What the actors block needs from the cross-node transport: carrying a call to the sidecar that owns the actor,
// whose adapter hands it to that node's ActorsBlock.receive(). Built over the sidecar transport by the cluster
// wiring; tests use an in-process one.
import { Code } from "@connectrpc/connect";
import { DaprError } from "../../errors.js";
import type { Location } from "./placement/types.js";

/** An actor method call, as both API fronts pass it in. */
export interface ActorInvokeRequest {
  actorType: string;
  actorId: string;
  method: string;
  /** The caller's verb (the app always gets PUT, as from daprd). */
  verb: string;
  /** The caller's headers to pass on to the app (lower-case names). */
  headers: Record<string, string>;
  body: Uint8Array;
  query?: string;
  /** The caller's Dapr-Reentrancy-Id, for a call from inside an actor's turn. */
  reentrancyId?: string;
}

export interface ActorInvokeResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** What a timer and a reminder registration share: whose, its name, Dapr's time texts and its data. */
export interface ActorScheduleRequest {
  actorType: string;
  actorId: string;
  name: string;
  dueTime?: string;
  period?: string;
  ttl?: string;
  /** JSON text, sent to the app as is on every fire (HTTP: the body's `data`; gRPC: the bytes JSON-encoded). */
  data?: string;
}

export interface RegisterReminderRequest extends ActorScheduleRequest {
  /** false: refuse to replace an existing reminder of the name (ERR_ACTOR_REMINDER_ALREADY_EXISTS). */
  overwrite?: boolean;
}

/** A call carried to the owner. `hops` counts forwards so far; a call is not forwarded forever while views settle. */
export type ForwardedCall =
  | { kind: "invoke"; request: ActorInvokeRequest; hops: number }
  | { kind: "registerReminder"; request: RegisterReminderRequest; hops: number };

export interface ActorForwarder {
  /**
   * Runs the call on the sidecar at `location` (its ActorsBlock.receive) and returns what that answered: the
   * response of an invoke, undefined for a reminder registration. Errors come back as DaprErrors.
   */
  forward(location: Location, call: ForwardedCall, signal?: AbortSignal): Promise<ActorInvokeResponse | undefined>;
}

/** Forwards a call at most this many times (the first sidecar's forward included). */
export const MAX_HOPS = 3;

/** The owner's sidecar could not be reached. The forwarder has re-read the hosts view before throwing it, so a
 * view without that host means it is gone and the call may go to the new owner. */
export class OwnerUnreachableError extends DaprError {
  constructor(readonly host: string, message: string) {
    super("ERR_DIRECT_INVOKE", message, 500, Code.Internal);
  }
}
