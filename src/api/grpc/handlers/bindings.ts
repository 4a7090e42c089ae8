// gRPC: InvokeBinding of dapr.proto.runtime.v1.Dapr.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";
import { bindingsSlot, withCallerMetadata } from "../../../blocks/bindings/bindings-block.js";
import { errors } from "../../../errors.js";

export function bindingsHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async invokeBinding(req, hc) {
      const block = ctx.blocks.get(bindingsSlot);
      if (!block) throw errors.invokeOutputBinding(req.name, "the bindings block is not running");
      // As daprd, the caller's gRPC metadata (its trace context among it) joins the request's metadata.
      const metadata = withCallerMetadata(req.metadata, hc.requestHeader, "grpc");
      const res = await block.invoke(req.name, req.operation, req.data, metadata, hc.signal);
      return { data: res?.data, metadata: res?.metadata };
    },
  };
}
