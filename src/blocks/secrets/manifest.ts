// The secrets block: /v1.0/secrets/* and GetSecret / GetBulkSecret.
import { secretsEndpoints } from "../../api/http/routes/secrets.js";
import { secretsHandlers } from "../../api/grpc/handlers/secrets.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";
import { SecretsBlock, secretsSlot } from "./secrets-block.js";

export const secretsManifest = defineBlock({
  name: "secrets",
  http: secretsEndpoints,
  grpc: (api) => [daprService(secretsHandlers(api), "secrets")],
  create(host) {
    host.provide(secretsSlot, new SecretsBlock(host.registry));
    return { stop: async () => host.provide(secretsSlot, undefined) };
  },
});
