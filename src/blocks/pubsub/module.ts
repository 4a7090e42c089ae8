// The pub/sub block: publish endpoints, outside subscribers (WebSocket, rapr.v1.Subscribers), and its lifecycle: the
// block for the API fronts, declarative subscriptions at start,
// programmatic ones once the app's port opens, the outside-subscriber hub, and an orderly stop. Stopping begins with
// a drain, before the app stops: subscriptions take no new messages and the deliveries in flight finish, their answers
// settled with the broker, within the graceful-shutdown time. Subscriptions close only after the app has stopped:
// closing one hands its unanswered messages back to the broker at once, i.e. to another replica.
import { randomUUID } from "node:crypto";
import { defineBlock, type BlockHost, type BlockInstance } from "../../runtime/block.js";
import { pubsubEndpoints } from "../../api/http/routes/pubsub.js";
import { pubsubHandlers } from "../../api/grpc/handlers/pubsub.js";
import { subscribersService } from "../../api/grpc/handlers/pubsub-outside.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { Subscribers } from "../../gen/rapr/v1/pubsub_pb.js";
import { DaprError, messageOf } from "../../errors.js";
import type { Logger } from "../../observability/logger.js";
import { settlesWithin, sleepUnless } from "../../resiliency/sleep.js";
import { OutsideHub, outsideSlot } from "./outside/hub.js";
import { PubsubBlock, pubsubSlot } from "./pubsub-block.js";
import { pubsubOptions, pubsubRunFlags, type PubsubOptions } from "./flags.js";
import { alphaCallback } from "./delivery.js";
import { loadAppSubscriptions } from "./app-subscriptions.js";
import { parseDeclarative, type SubscriptionSpec } from "./subscriptions.js";

const APP_PORT_WAIT_MS = 10 * 60_000;

export const pubsubManifest = defineBlock<PubsubOptions>({
  name: "pubsub",
  flags: pubsubRunFlags,
  parseOptions: pubsubOptions,
  http: pubsubEndpoints,
  grpc: (api) => [
    daprService(pubsubHandlers(api), (method) => (method.startsWith("Subscribe") ? "subscribe" : "publish")),
    { service: Subscribers, impl: subscribersService(api) },
  ],
  create: pubsubModule,
});

function pubsubModule(host: BlockHost, options: PubsubOptions): BlockInstance {
  const stopped = new AbortController();
  let block: PubsubBlock | undefined;
  let hub: OutsideHub | undefined;
  let loading: Promise<void> | undefined;
  let logger: Logger | undefined;
  let draining: Promise<void> | undefined;
  const drain = (graceMs: number) =>
    (draining ??= (async () => {
      stopped.abort(); // no subscription starts from here on
      if (!block) return;
      const cutShort = new AbortController();
      if (graceMs <= 0) cutShort.abort(); // the app is gone: stop taking messages, but wait for nothing
      if (await settlesWithin(block.drain(cutShort.signal), graceMs)) return;
      cutShort.abort();
      // With no grace the app is gone already: nothing in flight could have finished.
      if (graceMs > 0) logger?.warn("pub/sub did not drain within the graceful-shutdown time; unanswered deliveries go back to the broker", { grace_ms: graceMs });
    })());
  return {
    async start() {
      const config = host.config;
      const log = (logger = host.logger.child("pubsub"));
      block = new PubsubBlock(host.registry, config.appId, host.appChannel, log, alphaCallback(config), host.resiliency);
      hub = new OutsideHub(block, {
        secret: options.subscriberTokenSecret,
        bufferSize: options.subscriberBuffer,
        nodeId: `rapr-edge-${config.appId}-${randomUUID().slice(0, 8)}`,
        logger: log.child("outside"),
      });
      host.provide(pubsubSlot, block);
      host.provide(outsideSlot, hub);
      const b = block;
      const h = hub;
      host.metadata.contribute((snap) => {
        const st = h.stats();
        snap.extended["rapr.outside.clients"] = String(st.clients);
        snap.extended["rapr.outside.topics"] = String(st.topics);
        snap.extended["rapr.outside.delivered"] = String(st.delivered);
        snap.extended["rapr.outside.dropped"] = String(st.dropped);
        snap.extended["rapr.outside.lastFanoutMs"] = st.lastFanoutMs.toFixed(3);
        for (const s of b.subscriptions()) {
          snap.subscriptions.push({
            pubsubname: s.pubsubName,
            topic: s.topic,
            metadata: s.metadata,
            rules: [...s.rules, ...(s.defaultPath !== undefined ? [{ match: "", path: s.defaultPath }] : [])],
            deadLetterTopic: s.deadLetterTopic ?? "",
            type: s.kind.toUpperCase(),
          });
        }
      });
      if (!host.appChannel.configured) return;
      let declarative: SubscriptionSpec[] = [];
      try {
        declarative = parseDeclarative(host.resources, config.appId);
      } catch (err) {
        log.error("invalid Subscription resource", { error: messageOf(err) });
      }
      // A broker that is down when a subscription starts only delays it: retried with backoff until the node stops.
      const subscribeUntilStopped = async (s: SubscriptionSpec, firstAttemptDone: () => void) => {
        for (let attempt = 1; !stopped.signal.aborted; attempt++) {
          try {
            await b.subscribe(s);
            return firstAttemptDone();
          } catch (err) {
            firstAttemptDone();
            if (err instanceof DaprError) {
              // No such pubsub component: retrying will not help.
              return void log.error("subscription ignored", { pubsub: s.pubsubName, topic: s.topic, error: err.message });
            }
            const retryInMs = Math.min(10_000, 250 * 2 ** Math.min(attempt, 6));
            log.error("subscription failed; retrying", { pubsub: s.pubsubName, topic: s.topic, attempt, retry_in_ms: retryInMs, error: messageOf(err) });
            await sleepUnless(retryInMs, stopped.signal);
          }
        }
      };
      loading = (async () => {
        const seen = new Set<string>();
        const running: Promise<void>[] = [];
        const start = async (s: SubscriptionSpec) => {
          const key = `${s.pubsubName}\u0000${s.topic}`;
          if (seen.has(key)) return log.warn("duplicate subscription ignored", { pubsub: s.pubsubName, topic: s.topic, kind: s.kind });
          seen.add(key);
          // The first attempt is awaited (subscriptions start in order); retries go on in the background.
          await new Promise<void>((resolve) => running.push(subscribeUntilStopped(s, resolve).finally(resolve)));
        };
        for (const s of declarative) await start(s);
        // --disable-init-endpoints subscribe: daprd does not ask the app for programmatic subscriptions.
        const askApp = !config.disableInitEndpoints?.includes("subscribe");
        if (askApp && (await host.appChannel.waitForPort(APP_PORT_WAIT_MS, stopped.signal))) {
          const programmatic = await loadAppSubscriptions(host.appChannel, log, stopped.signal);
          for (const s of programmatic) await start(s);
        }
        await Promise.allSettled(running);
      })();
    },
    drain,
    async stop() {
      stopped.abort();
      await loading?.catch(() => {});
      await hub?.close();
      await block?.stop();
    },
  };
}
