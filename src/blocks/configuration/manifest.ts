// The configuration block: /configuration/* (v1.0 and v1.0-alpha1) and the *Configuration* gRPC methods.
import { configurationEndpoints } from "../../api/http/routes/configuration.js";
import { configurationHandlers } from "../../api/grpc/handlers/configuration.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { ConfigurationBlock, configurationSlot } from "./configuration-block.js";

export const configurationManifest = defineBlock({
  name: "configuration",
  http: configurationEndpoints,
  grpc: (api) => [daprService(configurationHandlers(api), "configuration")],
  create(host) {
    const app = host.config.appPort === undefined ? undefined : host.appChannel;
    const block = new ConfigurationBlock(host.registry, host.resiliency, app, host.logger);
    host.provide(configurationSlot, block);
    return {
      stop: async () => {
        host.provide(configurationSlot, undefined);
        block.stop();
      },
    };
  },
});
