// The flags clustering adds to `rapr run`, and the options they make.
import { UsageError, type FlagSpec, type FlagValues } from "../cli/flags.js";
import { clusterSecretWeakness } from "./keys.js";
import { defaultSwimConfig } from "./membership/types.js";

export const clusterRunFlags: FlagSpec[] = [
  { name: "cluster", type: "string", help: "join the cluster of this name (nodes find each other on the hyperswarm DHT)" },
  { name: "cluster-secret", type: "string", help: "shared secret, 16+ characters (make one: rapr cluster-secret); only nodes holding it are admitted (env RAPR_CLUSTER_SECRET)" },
  { name: "cluster-bootstrap", type: "csv", help: "DHT bootstrap nodes host:port,… (default: hyperswarm's public bootstrap nodes)", default: [] },
  { name: "cluster-peers", type: "csv", help: "static peers host:port,… of their --cluster-port, for LANs without a DHT", default: [] },
  { name: "cluster-dht", type: "bool", help: "discover peers on the DHT (off: static peers only)", default: true },
  { name: "cluster-host", type: "string", help: "address the membership UDP socket binds", default: "0.0.0.0" },
  { name: "cluster-port", type: "int", help: "membership UDP port (0: any free port)", default: 0, min: 0, max: 65535 },
  { name: "cluster-member-id", type: "string", help: "this member's id (default: random); a restart with the same id rejoins as that member" },
  { name: "cluster-advertise-host", type: "string", help: "address other members use to reach this one (default: first external IPv4)" },
  { name: "cluster-probe-interval", type: "int", help: "SWIM protocol period, ms", default: defaultSwimConfig.probeIntervalMs, min: 10 },
  { name: "cluster-probe-timeout", type: "int", help: "direct probe timeout before indirect probes, ms", default: defaultSwimConfig.probeTimeoutMs, min: 1 },
  { name: "cluster-indirect-checks", type: "int", help: "members asked to probe indirectly (k)", default: defaultSwimConfig.indirectChecks, min: 0 },
  { name: "cluster-suspicion-mult", type: "int", help: "suspicion lasts mult x log10(n) x period at least", default: defaultSwimConfig.suspicionMult, min: 1 },
  { name: "cluster-sync-interval", type: "int", help: "full-state sync with a random member, ms", default: defaultSwimConfig.syncIntervalMs, min: 100 },
];

/** The cluster secret from --cluster-secret, else $RAPR_CLUSTER_SECRET. */
export function clusterSecret(values: FlagValues, env: Record<string, string | undefined>): string | undefined {
  return (values["cluster-secret"] as string | undefined) || env.RAPR_CLUSTER_SECRET || undefined;
}

export interface ClusterOptions {
  name: string;
  secret: string;
  bootstrap: string[];
  peers: string[];
  dht: boolean;
  host: string;
  port: number;
  advertiseHost?: string;
  memberId?: string;
  /** RAPR_CLUSTER_DHT_HOST: the address the DHT node binds. */
  dhtHost?: string;
  swim: { probeIntervalMs: number; probeTimeoutMs: number; indirectChecks: number; suspicionMult: number; syncIntervalMs: number };
}

/** Undefined without --cluster. With it, a missing or weak secret stops `rapr run` before anything starts (exit 2). */
export function clusterOptions(values: FlagValues, env: Record<string, string | undefined>): ClusterOptions | undefined {
  const name = values.cluster as string | undefined;
  if (!name) return undefined;
  const secret = clusterSecret(values, env);
  if (!secret) throw new UsageError("--cluster needs --cluster-secret (or RAPR_CLUSTER_SECRET); make one with: rapr cluster-secret");
  const weakness = clusterSecretWeakness(secret);
  if (weakness) throw new UsageError(weakness);
  const list = (flag: string) => ((values[flag] as string[] | undefined) ?? []).filter(Boolean);
  const int = (flag: string) => values[flag] as number;
  return {
    name,
    secret,
    bootstrap: list("cluster-bootstrap"),
    peers: list("cluster-peers"),
    dht: values["cluster-dht"] !== false,
    host: values["cluster-host"] as string,
    port: int("cluster-port"),
    advertiseHost: values["cluster-advertise-host"] as string | undefined,
    memberId: (values["cluster-member-id"] as string | undefined) || undefined,
    dhtHost: env.RAPR_CLUSTER_DHT_HOST || undefined,
    swim: {
      probeIntervalMs: int("cluster-probe-interval"),
      probeTimeoutMs: int("cluster-probe-timeout"),
      indirectChecks: int("cluster-indirect-checks"),
      suspicionMult: int("cluster-suspicion-mult"),
      syncIntervalMs: int("cluster-sync-interval"),
    },
  };
}
