// The app's actor settings, as GET /dapr/config answers them (daprd's config.ApplicationConfig): the hosted types
// and per-type timeouts and reentrancy, with entitiesConfig overriding the top level for the types it lists.
// A malformed duration falls back to the default with a warning, as daprd does.
import type { Logger } from "../../observability/logger.js";
import { parseGoDuration } from "../../scheduler/durations.js";
import { DEFAULT_ACTOR_TYPE_CONFIG, DEFAULT_SCAN_INTERVAL_MS, type ActorTypeConfig } from "./config.js";

export interface AppActorConfig {
  /** Type → its settings; the types this app hosts. */
  types: Map<string, ActorTypeConfig>;
  scanIntervalMs: number;
  drainRebalancedActors: boolean;
}

export const NO_ACTORS: AppActorConfig = { types: new Map(), scanIntervalMs: DEFAULT_SCAN_INTERVAL_MS, drainRebalancedActors: true };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads /dapr/config's JSON; anything unreadable is a default, never a failure (the app stays callable). */
export function parseAppActorConfig(body: unknown, log: Logger): AppActorConfig {
  if (!isObject(body)) return NO_ACTORS;
  const base = typeSettings(body, DEFAULT_ACTOR_TYPE_CONFIG, log);
  const types = new Map<string, ActorTypeConfig>();
  for (const type of names(body.entities)) types.set(type, base);
  for (const entry of Array.isArray(body.entitiesConfig) ? body.entitiesConfig : []) {
    if (!isObject(entry)) continue;
    const settings = typeSettings(entry, base, log);
    for (const type of names(entry.entities)) types.set(type, settings);
  }
  return {
    types,
    scanIntervalMs: duration(body.actorScanInterval, "actorScanInterval", DEFAULT_SCAN_INTERVAL_MS, log),
    drainRebalancedActors: typeof body.drainRebalancedActors === "boolean" ? body.drainRebalancedActors : true,
  };
}

function typeSettings(src: Json, base: ActorTypeConfig, log: Logger): ActorTypeConfig {
  const reentrancy = isObject(src.reentrancy) ? src.reentrancy : undefined;
  const depth = reentrancy?.maxStackDepth;
  return {
    idleTimeoutMs: duration(src.actorIdleTimeout, "actorIdleTimeout", base.idleTimeoutMs, log),
    drainOngoingCallTimeoutMs: duration(src.drainOngoingCallTimeout, "drainOngoingCallTimeout", base.drainOngoingCallTimeoutMs, log),
    maxQueue: base.maxQueue,
    reentrancy: reentrancy
      ? {
          enabled: reentrancy.enabled === true,
          maxStackDepth: Number.isSafeInteger(depth) && (depth as number) > 0 ? (depth as number) : DEFAULT_ACTOR_TYPE_CONFIG.reentrancy.maxStackDepth,
        }
      : base.reentrancy,
  };
}

function names(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((n): n is string => typeof n === "string" && n.length > 0) : [];
}

function duration(v: unknown, field: string, fallback: number, log: Logger): number {
  if (v === undefined || v === null || v === "") return fallback;
  let ms: number | undefined;
  try {
    ms = typeof v === "string" ? parseGoDuration(v, field) : undefined;
  } catch {
    ms = undefined;
  }
  if (ms === undefined || ms <= 0) {
    log.warn(`invalid ${field} in the app's /dapr/config; using the default`, { value: String(v), default_ms: fallback });
    return fallback;
  }
  return ms;
}
