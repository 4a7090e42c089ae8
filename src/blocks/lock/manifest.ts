// The distributed lock block: /v1.0-alpha1/lock and /unlock, TryLockAlpha1 / UnlockAlpha1 over the lock stores.
import { lockEndpoints } from "../../api/http/routes/lock.js";
import { lockHandlers } from "../../api/grpc/handlers/lock.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { LockBlock, lockSlot } from "./lock-block.js";

export const lockManifest = defineBlock({
  name: "lock",
  http: lockEndpoints,
  grpc: (api) => [daprService(lockHandlers(api), "lock")],
  create(host) {
    host.provide(lockSlot, new LockBlock(host.registry, host.config.appId, host.resiliency));
    return { stop: async () => host.provide(lockSlot, undefined) };
  },
});
