// The jobs block: /v1.0-alpha1/jobs over durable timers in the state store, fired to the app as POST /job/{name}.
import { defineBlock } from "../../runtime/block.js";
import { jobsEndpoints } from "./http.js";
import { JobsBlock, jobsSlot, jobStore } from "./jobs-block.js";

export const jobsManifest = defineBlock({
  name: "jobs",
  http: jobsEndpoints,
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
