// A block's share of dapr.proto.runtime.v1.Dapr as a GrpcService, each method filed under its Dapr API group.
import type { ServiceImpl } from "@connectrpc/connect";
import { Dapr } from "../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { GrpcService } from "../../runtime/block.js";

/** `group`: the API group of every method, or one per method by its proto name. Versions follow daprd: *Alpha1 → v1alpha1. */
export function daprService(impl: Partial<ServiceImpl<typeof Dapr>>, group: string | ((method: string) => string)): GrpcService {
  const groups: NonNullable<GrpcService["groups"]> = {};
  for (const m of Dapr.methods) {
    if (!(m.localName in impl)) continue;
    groups[m.name] = { group: typeof group === "string" ? group : group(m.name), version: /Alpha\d+$/.test(m.name) ? "v1alpha1" : "v1" };
  }
  return { service: Dapr, impl: impl as Record<string, unknown>, groups };
}
