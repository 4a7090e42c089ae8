// gRPC: InvokeActor, GetActorState, ExecuteActorStateTransaction, actor timers and reminders.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";
import { actorsOf } from "../../../blocks/actors/slot.js";
import { actorErrors } from "../../../blocks/actors/errors.js";
import type { ReminderInfo } from "../../../blocks/actors/timers.js";

const encoder = new TextEncoder();

/** Timer and reminder data as daprd keeps gRPC bytes: json.Marshal([]byte), a JSON string of their base64. */
const dataOf = (bytes: Uint8Array) => (bytes.byteLength ? JSON.stringify(Buffer.from(bytes).toString("base64")) : undefined);
const opt = (s: string) => s || undefined;

function reminderMessage(r: ReminderInfo) {
  return {
    actorType: r.actorType, actorId: r.actorId, dueTime: r.dueTime, period: r.period, ttl: r.ttl,
    data: r.data === undefined ? undefined : { typeUrl: "", value: encoder.encode(r.data) },
  };
}

export function actorsHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async invokeActor(req, call) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.metadata)) headers[k.toLowerCase()] = v;
      // The SDKs send JSON without saying so; the app's body parser needs the type (daprd sends application/json).
      headers["content-type"] ??= "application/json";
      const res = await actorsOf(ctx).invoke({
        actorType: req.actorType, actorId: req.actorId, method: req.method, verb: "PUT", headers, body: req.data,
        reentrancyId: call.requestHeader.get("dapr-reentrancy-id") ?? headers["dapr-reentrancy-id"],
      }, call.signal);
      return { data: res.body };
    },
    async getActorState(req) {
      const value = await actorsOf(ctx).getState(req.actorType, req.actorId, req.key);
      return value ? { data: value.data, metadata: value.metadata } : {};
    },
    async executeActorStateTransaction(req) {
      const ops = req.operations.map((op, i) => {
        const operation = op.operationType.toLowerCase();
        if (operation !== "upsert" && operation !== "delete") throw actorErrors.badRequest(`operation ${i}: operationType must be "upsert" or "delete", got "${op.operationType}"`);
        return { operation, key: op.key, value: operation === "upsert" ? op.value?.value ?? new Uint8Array() : undefined, metadata: op.metadata } as const;
      });
      await actorsOf(ctx).transaction(req.actorType, req.actorId, ops);
      return {};
    },
    async registerActorTimer(req) {
      await actorsOf(ctx).registerTimer({
        actorType: req.actorType, actorId: req.actorId, name: req.name, dueTime: opt(req.dueTime), period: opt(req.period),
        ttl: opt(req.ttl), callback: opt(req.callback), data: dataOf(req.data),
      });
      return {};
    },
    async unregisterActorTimer(req) {
      await actorsOf(ctx).unregisterTimer(req.actorType, req.actorId, req.name);
      return {};
    },
    async registerActorReminder(req) {
      await actorsOf(ctx).registerReminder({
        actorType: req.actorType, actorId: req.actorId, name: req.name, dueTime: opt(req.dueTime), period: opt(req.period),
        ttl: opt(req.ttl), data: dataOf(req.data), overwrite: req.overwrite,
      });
      return {};
    },
    async unregisterActorReminder(req) {
      await actorsOf(ctx).unregisterReminder(req.actorType, req.actorId, req.name);
      return {};
    },
    async getActorReminder(req) {
      return reminderMessage(await actorsOf(ctx).getReminder(req.actorType, req.actorId, req.name));
    },
    async listActorReminders(req) {
      const list = await actorsOf(ctx).listReminders(req.actorType, req.actorId || undefined);
      return { reminders: list.map((r) => ({ name: r.name, reminder: reminderMessage(r) })) };
    },
    async unregisterActorRemindersByType(req) {
      await actorsOf(ctx).unregisterRemindersByType(req.actorType, req.actorId || undefined);
      return {};
    },
  };
}
