// gRPC: GetSecret, GetBulkSecret.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";
import { secretsOf } from "../../http/routes/secrets.js";

export function secretsHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async getSecret(req) {
      return { data: await secretsOf(ctx).get(req.storeName, req.key, req.metadata) };
    },
    async getBulkSecret(req) {
      const all = await secretsOf(ctx).bulkGet(req.storeName, req.metadata);
      return { data: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, { secrets: v }])) };
    },
  };
}
