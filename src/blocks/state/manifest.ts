// The state block: /v1.0/state/* and Dapr's *State* gRPC methods over the state stores.
import { stateEndpoints } from "../../api/http/routes/state.js";
import { stateHandlers } from "../../api/grpc/handlers/state.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { StateBlock, stateSlot } from "./state-block.js";

export const stateManifest = defineBlock({
  name: "state",
  http: stateEndpoints,
  grpc: (api) => [daprService(stateHandlers(api), "state")],
  create(host) {
    host.provide(stateSlot, new StateBlock(host.registry, host.config.appId, host.resiliency));
    return { stop: async () => host.provide(stateSlot, undefined) };
  },
});
