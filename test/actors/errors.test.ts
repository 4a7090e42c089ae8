import { Code } from "@connectrpc/connect";
import { describe, expect, test } from "bun:test";
import {
  ActorClosedError,
  ActorMovedError,
  ActorQueueFullError,
  ActorStackDepthError,
  actorErrors,
  toDaprError,
} from "../../src/blocks/actors/errors.js";
import { DaprError } from "../../src/errors.js";

describe("actor errors", () => {
  test("daprd's codes, HTTP and gRPC statuses (pkg/messages/predefined.go)", () => {
    const table: [DaprError, string, number, Code][] = [
      [actorErrors.instanceMissing(), "ERR_ACTOR_INSTANCE_MISSING", 400, Code.Internal],
      [actorErrors.invokeMethod("x"), "ERR_ACTOR_INVOKE_METHOD", 500, Code.Internal],
      [actorErrors.runtimeNotFound(), "ERR_ACTOR_RUNTIME_NOT_FOUND", 500, Code.Internal],
      [actorErrors.stateGet("x"), "ERR_ACTOR_STATE_GET", 500, Code.Internal],
      [actorErrors.stateTransactionSave("x"), "ERR_ACTOR_STATE_TRANSACTION_SAVE", 500, Code.Internal],
      [actorErrors.reminderCreate("x"), "ERR_ACTOR_REMINDER_CREATE", 500, Code.Internal],
      [actorErrors.reminderGet("x"), "ERR_ACTOR_REMINDER_GET", 500, Code.Internal],
      [actorErrors.reminderDelete("x"), "ERR_ACTOR_REMINDER_DELETE", 500, Code.Internal],
      [actorErrors.reminderNotFound("r"), "ERR_ACTOR_REMINDER_NOT_FOUND", 404, Code.NotFound],
      [actorErrors.reminderAlreadyExists("r"), "ERR_ACTOR_REMINDER_ALREADY_EXISTS", 409, Code.AlreadyExists],
      [actorErrors.reminderNonHosted(), "ERR_ACTOR_REMINDER_NON_HOSTED", 403, Code.PermissionDenied],
      [actorErrors.timerCreate("x"), "ERR_ACTOR_TIMER_CREATE", 500, Code.Internal],
      [actorErrors.typeReserved("dapr.internal.x"), "ERR_ACTOR_TYPE_RESERVED", 403, Code.PermissionDenied],
      [actorErrors.noAppChannel(), "ERR_ACTOR_NO_APP_CHANNEL", 400, Code.Unavailable],
      [actorErrors.stackDepth(), "ERR_ACTOR_STACK_DEPTH", 500, Code.ResourceExhausted],
      [actorErrors.runtimeClosed(), "ERR_ACTOR_RUNTIME_CLOSED", 503, Code.Unavailable],
      [actorErrors.noAddress("t||1"), "ERR_ACTOR_NO_ADDRESS", 404, Code.FailedPrecondition],
      [actorErrors.queueFull("t||1", 5), "ERR_ACTOR_QUEUE_FULL", 429, Code.ResourceExhausted],
    ];
    for (const [err, code, http, grpc] of table) {
      expect(err).toBeInstanceOf(DaprError);
      expect([err.errorCode, err.httpStatus, err.grpcCode]).toEqual([code, http, grpc]);
    }
    expect(actorErrors.stateGet("boom").toJSON()).toEqual({ errorCode: "ERR_ACTOR_STATE_GET", message: "error getting actor state: boom" });
  });

  test("the core's typed errors map to the codes a front answers", () => {
    expect(toDaprError(new ActorQueueFullError("t||1", 3)).errorCode).toBe("ERR_ACTOR_QUEUE_FULL");
    expect(toDaprError(new ActorStackDepthError("t||1", 32)).errorCode).toBe("ERR_ACTOR_STACK_DEPTH");
    expect(toDaprError(new ActorMovedError("t||1", undefined)).errorCode).toBe("ERR_ACTOR_NO_ADDRESS");
    expect(toDaprError(new ActorClosedError("t||1", "closed")).errorCode).toBe("ERR_ACTOR_RUNTIME_CLOSED");
    expect(toDaprError(new Error("app said no")).message).toBe("error invoke actor method: app said no");
    const dapr = actorErrors.reminderNotFound("r");
    expect(toDaprError(dapr)).toBe(dapr);
  });
});
