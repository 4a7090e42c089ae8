// Per-type actor settings, with daprd's documented defaults (docs.dapr.io, actors-runtime-config).
import type { ReentrancyConfig } from "./mailbox.js";

export interface ActorTypeConfig {
  /** Deactivate after this long without a call (actorIdleTimeout). */
  idleTimeoutMs: number;
  /** How long a drain lets running calls finish before cutting them short (drainOngoingCallTimeout). */
  drainOngoingCallTimeoutMs: number;
  /** Calls that may wait for one actor; daprd has no bound. */
  maxQueue: number;
  reentrancy: ReentrancyConfig;
}

export const DEFAULT_ACTOR_TYPE_CONFIG: ActorTypeConfig = {
  idleTimeoutMs: 60 * 60_000,
  drainOngoingCallTimeoutMs: 60_000,
  maxQueue: 10_000,
  reentrancy: { enabled: false, maxStackDepth: 32 },
};

/** actorScanInterval: how often idle actors are looked for. */
export const DEFAULT_SCAN_INTERVAL_MS = 30_000;
