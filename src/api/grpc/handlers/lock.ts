// gRPC: TryLockAlpha1, UnlockAlpha1.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { UnlockResponse_Status } from "../../../gen/dapr/proto/runtime/v1/lock_pb.js";
import type { ApiContext } from "../../context.js";
import { lockOf } from "../../http/routes/lock.js";
import { UNLOCK_STATUS_CODES } from "../../../components/contracts/lock.js";

export function lockHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async tryLockAlpha1(req) {
      return { success: await lockOf(ctx).tryLock(req.storeName, req) };
    },
    async unlockAlpha1(req) {
      return { status: UNLOCK_STATUS_CODES[await lockOf(ctx).unlock(req.storeName, req)] as UnlockResponse_Status };
    },
  };
}
