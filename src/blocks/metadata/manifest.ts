// The sidecar's own endpoints: health, metadata, shutdown. Their blocks (HealthBlock, MetadataBlock) belong to the
// host, since every other block contributes to them; this manifest only serves them.
import { systemEndpoints } from "../../api/http/routes/system.js";
import { systemHandlers } from "../../api/grpc/handlers/system.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock } from "../../runtime/block.js";

export const systemManifest = defineBlock({
  name: "system",
  http: systemEndpoints,
  grpc: (api) => [daprService(systemHandlers(api), (method) => (method === "Shutdown" ? "shutdown" : "metadata"))],
});
