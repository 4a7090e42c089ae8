// The bindings block: /v1.0/bindings/{name} and InvokeBinding; the bindings' capabilities in GET /v1.0/metadata;
// input bindings started once the sidecar is ready and the app's port opens, and, when the sidecar stops, every
// reader closed and deliveries in flight finished (drain) before the app and its channel are stopped.
import { bindingsEndpoints } from "../../api/http/routes/bindings.js";
import { bindingsHandlers } from "../../api/grpc/handlers/bindings.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { defineBlock, type BlockHost, type BlockInstance } from "../../runtime/block.js";
import { messageOf } from "../../errors.js";
import { settledOrAborted } from "../../resiliency/sleep.js";
import { BindingsBlock, bindingsSlot } from "./bindings-block.js";

export const bindingsManifest = defineBlock({
  name: "bindings",
  http: bindingsEndpoints,
  grpc: (api) => [daprService(bindingsHandlers(api), "bindings")],
  create: (host) => bindingsModule(host),
});

function bindingsModule(host: BlockHost): BlockInstance {
  const stopped = new AbortController();
  const log = host.logger.child("bindings");
  const block = new BindingsBlock(host.registry, log, host.resiliency);
  let draining: Promise<void> | undefined;
  const drain = (graceMs?: number) =>
    (draining ??= (async () => {
      stopped.abort();
      await block.stop(graceMs);
    })());
  return {
    async start() {
      host.provide(bindingsSlot, block);
      host.metadata.contribute((snap) => {
        for (const c of snap.components) {
          const caps = c.type.startsWith("bindings.") ? block.capabilities(c.name) : undefined;
          if (caps) c.capabilities = caps;
        }
      });
      const inputs = block.inputBindings();
      if (inputs.length === 0) return;
      if (!host.appChannel.configured) {
        log.info("no app port (--app-port): input bindings are not started", { bindings: inputs.map((i) => i.name).join(", ") });
        return;
      }
      void (async () => {
        // The app may call the sidecar while it handles an event: none goes out before the sidecar's API answers.
        await settledOrAborted(host.ready, stopped.signal);
        if (stopped.signal.aborted) return;
        // As Dapr, wait for the app's port as long as it takes (until the sidecar stops).
        if (!(await host.appChannel.waitForPort(Number.POSITIVE_INFINITY, stopped.signal))) return;
        await block.startInputs(host.appChannel, stopped.signal);
      })().catch((err) => log.error("input bindings failed to start", { error: messageOf(err) }));
    },
    drain,
    stop: () => drain(),
  };
}
