// gRPC: GetSecret, GetBulkSecret.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";

export function secretsHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async getSecret(req) {
      return { data: await ctx.secrets.get(req.storeName, req.key, req.metadata) };
    },
    async getBulkSecret(req) {
      const all = await ctx.secrets.bulkGet(req.storeName, req.metadata);
      return { data: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, { secrets: v }])) };
    },
  };
}
