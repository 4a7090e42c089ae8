// gRPC: ConverseAlpha1, ConverseAlpha2.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";
import { conversationOf } from "../../http/routes/conversation.js";

export function conversationHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    converseAlpha1: (req) => conversationOf(ctx).converseAlpha1(req),
    converseAlpha2: (req) => conversationOf(ctx).converseAlpha2(req),
  };
}
