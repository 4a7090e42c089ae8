// gRPC: metadata and shutdown.
import type { ServiceImpl } from "@connectrpc/connect";
import type { Dapr } from "../../../gen/dapr/proto/runtime/v1/dapr_pb.js";
import type { ApiContext } from "../../context.js";

export function systemHandlers(ctx: ApiContext): Partial<ServiceImpl<typeof Dapr>> {
  return {
    async getMetadata() {
      const m = ctx.metadata.get();
      const app = m.appConnectionProperties;
      return {
        id: m.id,
        runtimeVersion: m.runtimeVersion,
        enabledFeatures: m.enabledFeatures,
        registeredComponents: m.components,
        extendedMetadata: m.extended,
        activeActorsCount: m.actors,
        httpEndpoints: m.httpEndpoints,
        appConnectionProperties: {
          port: app.port ?? 0,
          protocol: app.protocol,
          channelAddress: app.channelAddress,
          maxConcurrency: app.maxConcurrency ?? 0,
          health: app.health && {
            healthCheckPath: app.health.healthCheckPath ?? "",
            healthProbeInterval: app.health.healthProbeInterval ?? "",
            healthProbeTimeout: app.health.healthProbeTimeout ?? "",
            healthThreshold: app.health.healthThreshold ?? 0,
          },
        },
      };
    },
    async setMetadata(req) {
      ctx.metadata.set(req.key, req.value);
      return {};
    },
    async shutdown() {
      ctx.requestShutdown("gRPC Shutdown");
      return {};
    },
  };
}
