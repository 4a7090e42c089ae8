// The jobs block: /v1.0-alpha1/jobs and the *JobAlpha1 gRPC methods over durable timers in the state store, fired to the app as POST /job/{name} or
// OnJobEventAlpha1.
import { defineBlock } from "../../runtime/block.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { jobsEndpoints } from "./http.js";
import { jobsHandlers } from "./grpc.js";
import { JobsBlock, jobsSlot, jobStore } from "./jobs-block.js";

export const jobsManifest = defineBlock({
  name: "jobs",
  http: jobsEndpoints,
  grpc: (api) => [daprService(jobsHandlers(api), "jobs")],
  create(host) {
    const store = jobStore(host.registry);
    if (!store?.query) return undefined;
    const block = new JobsBlock(store, host.config.appId, host.appChannel);
    return {
      start: async () => {
        await block.start();
        host.provide(jobsSlot, block);
      },
      stop: async () => {
        host.provide(jobsSlot, undefined);
        await block.close();
      },
    };
  },
});
