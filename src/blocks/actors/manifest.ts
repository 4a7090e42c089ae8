// The actors block: /v1.0/actors/* and Dapr's *Actor* gRPC methods over ActorsBlock. The hosts view is the same-host
// registry (every sidecar on this host whose app hosts actor types); calls for actors owned by another sidecar go to
// it over the sidecar transport (the invoke module's PeerLink, request kind "actor").
import { actorsEndpoints } from "../../api/http/routes/actors.js";
import { actorsHandlers } from "../../api/grpc/handlers/actors.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { messageOf } from "../../errors.js";
import { defineBlock } from "../../runtime/block.js";
import { ActorsBlock } from "./actors-block.js";
import { findActorStateStore } from "./actor-state.js";
import { ActorAppClient, type ActorAppChannel } from "./app-client.js";
import { defaultRegistryDir } from "../../../plugins/nameresolution.local/index.js";
import { peerLinkSlot } from "../invoke/peer-link.js";
import { ACTOR_REQUEST_KIND, peerForwarder, servePeerActorCall } from "./peer-forwarder.js";
import { RegistryHosts, registryHostId } from "./placement/registry-hosts.js";
import { actorsSlot } from "./slot.js";

/** How long start waits for the app's port before it serves actors without the app's types (as pubsub waits). */
const APP_PORT_WAIT_MS = 10 * 60_000;

export const actorsManifest = defineBlock({
  name: "actors",
  http: actorsEndpoints,
  grpc: (api) => [daprService(actorsHandlers(api), "actors")],
  create(host) {
    const { config, appChannel } = host;
    const log = host.logger.child("actors");
    // --disable-init-endpoints config: daprd does not ask the app for /dapr/config, so the app hosts no actor types.
    const readsConfig = !config.disableInitEndpoints?.includes("config");
    const channel: ActorAppChannel = {
      get configured() { return appChannel.configured && readsConfig; },
      get protocol() { return appChannel.protocol; },
      http: (req) => appChannel.http(req),
    };
    const self = registryHostId(config.appId);
    const registry = new RegistryHosts(defaultRegistryDir(), self, (message) => log.warn(message));
    const link = () => host.use(peerLinkSlot);
    const block = new ActorsBlock({
      appId: config.appId,
      self,
      hosts: registry.hosts,
      app: new ActorAppClient(channel, log),
      stateStore: () => findActorStateStore(host.registry),
      forwarder: peerForwarder(link, () => registry.refresh()),
      announce: (types) => registry.announce(types),
      logger: log,
    });
    host.metadata.contribute((snap) => {
      const status = block.runtimeStatus();
      snap.actors = status.activeActors;
      snap.actorRuntime = status;
      // rapr's own: the actor hosts this sidecar places actors on (its view of the same-host registry).
      const ids = registry.hosts.view().hosts.map((h) => h.id);
      if (ids.length) snap.extended.actorHosts = ids.join(",");
    });
    const stopped = new AbortController();
    let started: Promise<boolean> | undefined;
    let halted: Promise<void> | undefined;
    const halt = () => (halted ??= (async () => {
      stopped.abort();
      registry.close();
      if (await started) await block.stop();
      host.provide(actorsSlot, undefined);
    })());
    return {
      async start() {
        // In the background: the sidecar answers (and the app starts) while the actor runtime waits for the app.
        started = (async () => {
          if (channel.configured) await appChannel.waitForPort(APP_PORT_WAIT_MS, stopped.signal);
          if (stopped.signal.aborted) return false;
          const peers = link();
          if (peers) {
            peers.handle(ACTOR_REQUEST_KIND, servePeerActorCall((call) => block.receive(call)));
            registry.start(peers.namespace, peers.address);
          }
          await block.start();
          host.provide(actorsSlot, block);
          appChannel.onHealthChange((healthy) => {
            if (healthy && !stopped.signal.aborted) block.reloadConfig().catch((err) => log.warn("actor config reload failed", { error: messageOf(err) }));
          });
          return true;
        })().catch((err) => {
          log.error("the actor runtime did not start", { error: messageOf(err) });
          return false;
        });
      },
      // Actors deactivate (DELETE to the app) while the app still runs.
      drain: () => halt(),
      stop: () => halt(),
    };
  },
});
