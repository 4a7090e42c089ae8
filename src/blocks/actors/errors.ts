// The actor API's errors: daprd's codes, statuses and messages (pkg/messages/predefined.go), plus the typed
// signals the actor core raises, each mapped to a DaprError by toDaprError.
import { Code } from "@connectrpc/connect";
import { DaprError, messageOf } from "../../errors.js";
import type { Location } from "./placement/types.js";

const make = (code: string, http: number, grpc: Code, message: string) => new DaprError(code, message, http, grpc);

export const actorErrors = {
  /** daprd's ErrBadRequest: a name or id the API refuses (methodutil.ValidateName). */
  badRequest: (detail: string) => make("ERR_BAD_REQUEST", 400, Code.InvalidArgument, `invalid request: ${detail}`),
  /** A transaction operation or reminder body the API cannot read (daprd's ErrMalformedRequest). */
  malformedRequest: (detail: string) => make("ERR_MALFORMED_REQUEST", 400, Code.InvalidArgument, `failed deserializing HTTP body: ${detail}`),
  instanceMissing: () => make("ERR_ACTOR_INSTANCE_MISSING", 400, Code.Internal, "actor instance is missing"),
  invokeMethod: (detail: string) =>
    make("ERR_ACTOR_INVOKE_METHOD", 500, Code.Internal, `error invoke actor method: ${detail}`),
  runtimeNotFound: () =>
    make(
      "ERR_ACTOR_RUNTIME_NOT_FOUND",
      500,
      Code.Internal,
      `the state store is not configured to use the actor runtime. Have you set the - name: actorStateStore value: "true" in your state store component file?`,
    ),
  stateGet: (detail: string) => make("ERR_ACTOR_STATE_GET", 500, Code.Internal, `error getting actor state: ${detail}`),
  stateTransactionSave: (detail: string) =>
    make("ERR_ACTOR_STATE_TRANSACTION_SAVE", 500, Code.Internal, `error saving actor transaction state: ${detail}`),
  reminderCreate: (detail: string) =>
    make("ERR_ACTOR_REMINDER_CREATE", 500, Code.Internal, `error creating actor reminder: ${detail}`),
  reminderGet: (detail: string) => make("ERR_ACTOR_REMINDER_GET", 500, Code.Internal, `error getting actor reminder: ${detail}`),
  reminderDelete: (detail: string) =>
    make("ERR_ACTOR_REMINDER_DELETE", 500, Code.Internal, `error deleting actor reminder: ${detail}`),
  reminderNotFound: (name: string) => make("ERR_ACTOR_REMINDER_NOT_FOUND", 404, Code.NotFound, `actor reminder not found: ${name}`),
  reminderAlreadyExists: (name: string) =>
    make("ERR_ACTOR_REMINDER_ALREADY_EXISTS", 409, Code.AlreadyExists, `actor reminder already exists: ${name}`),
  reminderNonHosted: () =>
    make(
      "ERR_ACTOR_REMINDER_NON_HOSTED",
      403,
      Code.PermissionDenied,
      "operations on actor reminders are only possible on hosted actor types",
    ),
  timerCreate: (detail: string) => make("ERR_ACTOR_TIMER_CREATE", 500, Code.Internal, `error creating actor timer: ${detail}`),
  typeReserved: (actorType: string) =>
    make(
      "ERR_ACTOR_TYPE_RESERVED",
      403,
      Code.PermissionDenied,
      `actor type "${actorType}" is reserved for the Dapr workflow runtime; direct actor API access is not permitted`,
    ),
  noAppChannel: () => make("ERR_ACTOR_NO_APP_CHANNEL", 400, Code.Unavailable, "app channel is not initialized"),
  stackDepth: () => make("ERR_ACTOR_STACK_DEPTH", 500, Code.ResourceExhausted, "maximum stack depth exceeded"),
  runtimeClosed: () => make("ERR_ACTOR_RUNTIME_CLOSED", 503, Code.Unavailable, "actor runtime is closed"),
  noAddress: (actorKey: string) => make("ERR_ACTOR_NO_ADDRESS", 404, Code.FailedPrecondition, `did not find address for actor '${actorKey}'`),
  /** Rapr's own: daprd's per-actor queue is unbounded, so it has no code for a full one. */
  queueFull: (actorKey: string, limit: number) =>
    make("ERR_ACTOR_QUEUE_FULL", 429, Code.ResourceExhausted, `actor '${actorKey}' has ${limit} calls waiting; try again later`),
};

/** `type||id`, daprd's actor key (api.DaprSeparator). */
export const actorKey = (actorType: string, actorId: string) => `${actorType}||${actorId}`;

/** The actor's mailbox already holds its maximum of waiting calls. */
export class ActorQueueFullError extends Error {
  constructor(readonly actorKey: string, readonly limit: number) {
    super(`actor '${actorKey}' has ${limit} calls waiting`);
    this.name = "ActorQueueFullError";
  }
}

/** A reentrant call would nest deeper than the type's maxStackDepth. */
export class ActorStackDepthError extends Error {
  constructor(readonly actorKey: string, readonly maxStackDepth: number) {
    super(`maximum stack depth exceeded (${maxStackDepth}) for actor '${actorKey}'`);
    this.name = "ActorStackDepthError";
  }
}

/**
 * This node does not own the actor in its current view: the one retry-elsewhere signal. `owner` is where this
 * node's view places it, with that view's epoch; undefined when no live host serves the type.
 */
export class ActorMovedError extends Error {
  constructor(readonly actorKey: string, readonly owner: Location | undefined) {
    super(owner ? `actor '${actorKey}' lives on ${owner.host} (epoch ${owner.epoch})` : `no host serves actor '${actorKey}'`);
    this.name = "ActorMovedError";
  }
}

/** The actor type is not hosted by this node's app. */
export class ActorTypeNotHostedError extends Error {
  constructor(readonly actorKey: string, readonly actorType: string) {
    super(`actor type ${actorType} is not hosted here`);
    this.name = "ActorTypeNotHostedError";
  }
}

/** The actor's turn or wait was cut short: the table closed, or a drain ran out of its ongoing-call timeout. */
export class ActorClosedError extends Error {
  constructor(readonly actorKey: string, reason: string) {
    super(`actor '${actorKey}' ${reason}`);
    this.name = "ActorClosedError";
  }
}

/** The app's activation callback failed; the actor stays inactive and the next call activates it afresh. */
export class ActorActivationError extends Error {
  constructor(readonly actorKey: string, readonly cause: unknown) {
    super(`activating actor '${actorKey}': ${messageOf(cause)}`);
    this.name = "ActorActivationError";
  }
}

/** What a front answers for an error out of the actor core; a moved signal escaping the forwarding step included. */
export function toDaprError(err: unknown): DaprError {
  if (err instanceof DaprError) return err;
  if (err instanceof ActorQueueFullError) return actorErrors.queueFull(err.actorKey, err.limit);
  if (err instanceof ActorStackDepthError) return actorErrors.stackDepth();
  if (err instanceof ActorMovedError) return actorErrors.noAddress(err.actorKey);
  if (err instanceof ActorTypeNotHostedError) return actorErrors.noAddress(err.actorKey);
  if (err instanceof ActorClosedError) return actorErrors.runtimeClosed();
  return actorErrors.invokeMethod(messageOf(err));
}
