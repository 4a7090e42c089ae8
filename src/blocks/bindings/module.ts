// Bindings' lifecycle in the runtime: the block on the API context, the bindings' capabilities in GET /v1.0/metadata,
// input bindings started once the sidecar is ready and the app's port opens, and, when the sidecar stops, every
// reader closed and deliveries in flight finished (drain) before the app and its channel are stopped.
import type { Runtime, RuntimeModule } from "../../runtime/runtime.js";
import { messageOf } from "../../errors.js";
import { settledOrAborted } from "../../resiliency/sleep.js";
import { BindingsBlock } from "./bindings-block.js";

export function bindingsModule(): RuntimeModule {
  const stopped = new AbortController();
  let block: BindingsBlock | undefined;
  let draining: Promise<void> | undefined;
  const drain = (graceMs?: number) =>
    (draining ??= (async () => {
      stopped.abort();
      await block?.stop(graceMs);
    })());
  return {
    name: "bindings",
    async start(rt: Runtime) {
      const log = rt.logger.child("bindings");
      const b = (block = new BindingsBlock(rt.registry, log, rt.resiliency));
      rt.api.bindings = b;
      rt.api.metadata.contribute((snap) => {
        for (const c of snap.components) {
          const caps = c.type.startsWith("bindings.") ? b.capabilities(c.name) : undefined;
          if (caps) c.capabilities = caps;
        }
      });
      const inputs = b.inputBindings();
      if (inputs.length === 0) return;
      if (!rt.appChannel.configured) {
        log.info("no app port (--app-port): input bindings are not started", { bindings: inputs.map((i) => i.name).join(", ") });
        return;
      }
      void (async () => {
        // The app may call the sidecar while it handles an event: none goes out before the sidecar's API answers.
        await settledOrAborted(rt.ready, stopped.signal);
        if (stopped.signal.aborted) return;
        // As Dapr, wait for the app's port as long as it takes (until the sidecar stops).
        if (!(await rt.appChannel.waitForPort(Number.POSITIVE_INFINITY, stopped.signal))) return;
        await b.startInputs(rt.appChannel, stopped.signal);
      })().catch((err) => log.error("input bindings failed to start", { error: messageOf(err) }));
    },
    drain,
    stop: () => drain(),
  };
}
