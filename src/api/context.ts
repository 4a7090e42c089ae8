// What both API fronts can reach: the blocks, never plugins directly.
import type { MetadataBlock } from "../blocks/metadata/metadata-block.js";
import type { HealthBlock } from "../blocks/health/health-block.js";
import type { AppChannel } from "../app/channel.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { RuntimeConfig } from "../runtime/config.js";
import type { BlockManifest, BlockSlots } from "../runtime/block.js";
import type { ApiAccessRules } from "./api-access.js";

export interface ApiContext {
  config: RuntimeConfig;
  logger: Logger;
  metrics: Metrics;
  metadata: MetadataBlock;
  health: HealthBlock;
  appChannel: AppChannel;
  /** The blocks whose endpoints and services both servers serve (src/blocks/index.ts unless a test says otherwise). */
  manifests: readonly BlockManifest<any>[];
  /** What each block's module hands the API fronts (its block, a cluster node, …), by the block's slot. */
  blocks: BlockSlots;
  /** Configuration spec.api: which API groups are served (undefined: all). */
  apiAccess?: ApiAccessRules;
  /** Starts a graceful shutdown; the API answers first. */
  requestShutdown(reason: string): void;
}
