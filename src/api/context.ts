// What both API fronts can reach: the blocks, never plugins directly.
import type { SecretsBlock } from "../blocks/secrets/secrets-block.js";
import type { StateBlock } from "../blocks/state/state-block.js";
import type { PubsubBlock } from "../blocks/pubsub/pubsub-block.js";
import type { BindingsBlock } from "../blocks/bindings/bindings-block.js";
import type { MetadataBlock } from "../blocks/metadata/metadata-block.js";
import type { HealthBlock } from "../blocks/health/health-block.js";
import type { AppChannel } from "../app/channel.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { RuntimeConfig } from "../runtime/config.js";

export interface ApiContext {
  config: RuntimeConfig;
  logger: Logger;
  metrics: Metrics;
  state: StateBlock;
  secrets: SecretsBlock;
  metadata: MetadataBlock;
  health: HealthBlock;
  appChannel: AppChannel;
  /** Blocks with a lifecycle set their own field here from their RuntimeModule's start(). */
  pubsub?: PubsubBlock;
  bindings?: BindingsBlock;
  invoke?: import("../blocks/invoke/invoke-block.js").InvokeBlock;
  resiliency?: import("../resiliency/index.js").Resiliency;
  /** Starts a graceful shutdown; the API answers first. */
  requestShutdown(reason: string): void;
}
