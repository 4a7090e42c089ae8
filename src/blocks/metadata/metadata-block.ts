// GET|PUT /v1.0/metadata: who this sidecar is, what it loaded, and attributes the app set.
import type { ComponentRegistry, LoadedComponent } from "../../components/registry.js";
import type { StateStore } from "../../components/contracts/state.js";
import type { PubSub } from "../../components/contracts/pubsub.js";
import type { RuntimeConfig } from "../../runtime/config.js";
import { ExtendedAttributes } from "./extended-attributes.js";
import { RAPR_VERSION } from "../../version.js";

export interface ComponentInfo {
  name: string;
  type: string;
  version: string;
  capabilities: string[];
}

export interface MetadataSnapshot {
  id: string;
  runtimeVersion: string;
  enabledFeatures: string[];
  actors: { type: string; count: number }[];
  /** The actors block's status (daprd's actorRuntime), when that block runs. */
  actorRuntime?: { runtimeStatus: string; activeActors: { type: string; count: number }[]; hostReady: boolean; placement: string };
  components: ComponentInfo[];
  extended: Record<string, string>;
  subscriptions: unknown[];
  httpEndpoints: { name: string }[];
  appConnectionProperties: {
    port?: number;
    protocol: string;
    channelAddress: string;
    maxConcurrency?: number;
    health?: { healthCheckPath?: string; healthProbeInterval?: string; healthProbeTimeout?: string; healthThreshold?: number };
  };
}

/**
 * A component's capabilities as Dapr lists them: a state store's features, plus ACTOR when it is transactional and
 * has ETags (what actors need); a pubsub's features. Bindings add theirs through their module.
 */
function capabilitiesOf(l: LoadedComponent): string[] {
  if (l.family === "pubsub") return [...(l.instance as PubSub).features()];
  if (l.family !== "state") return [];
  const features: string[] = [...(l.instance as StateStore).features()];
  if (features.includes("ETAG") && features.includes("TRANSACTIONAL")) features.push("ACTOR");
  return features;
}

/** Other blocks add to the snapshot (subscriptions, actors, …) without the metadata block knowing them. */
export type MetadataContributor = (snap: MetadataSnapshot) => void;

export class MetadataBlock {
  private readonly extended = new ExtendedAttributes();
  private readonly contributors: MetadataContributor[] = [];

  constructor(private readonly config: RuntimeConfig, private readonly registry: ComponentRegistry) {
    this.extended.setOwn("daprRuntimeVersion", RAPR_VERSION);
    this.extended.setOwn("raprRuntimeVersion", RAPR_VERSION);
    if (config.appCommand.length) this.extended.setOwn("appCommand", config.appCommand.join(" "));
    this.extended.setOwn("cliPID", String(process.pid));
  }

  contribute(fn: MetadataContributor): void {
    this.contributors.push(fn);
  }

  /** An attribute the app sets (bounded: see ExtendedAttributes). */
  set(key: string, value: string): void {
    this.extended.set(key, value);
  }

  get(): MetadataSnapshot {
    const c = this.config;
    const snap: MetadataSnapshot = {
      id: c.appId,
      runtimeVersion: RAPR_VERSION,
      enabledFeatures: [],
      actors: [],
      components: this.registry.list().map((l) => ({
        name: l.spec.name,
        type: l.spec.type,
        version: l.spec.version,
        capabilities: capabilitiesOf(l),
      })),
      extended: this.extended.toObject(),
      subscriptions: [],
      httpEndpoints: [],
      appConnectionProperties: {
        port: c.appPort,
        protocol: c.appProtocol,
        channelAddress: c.appChannelAddress,
        maxConcurrency: c.appMaxConcurrency,
        health: c.enableAppHealthCheck
          ? {
              healthCheckPath: c.appHealthCheckPath,
              healthProbeInterval: `${c.appHealthProbeIntervalMs / 1000}s`,
              healthProbeTimeout: `${c.appHealthProbeTimeoutMs}ms`,
              healthThreshold: c.appHealthThreshold,
            }
          : undefined,
      },
    };
    for (const fn of this.contributors) fn(snap);
    return snap;
  }
}
