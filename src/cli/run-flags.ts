// The flags of `rapr run`, and how they become a RuntimeConfig.
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import type { LogLevel } from "../observability/logger.js";
import type { AppProtocol, RuntimeConfig } from "../runtime/config.js";
import { UsageError, type FlagSpec, type FlagValues } from "./flags.js";
import { checkPubsubFlags, pubsubRunFlags } from "../blocks/pubsub/flags.js";
import { invokeRunFlags } from "../blocks/invoke/flags.js";
import { checkClusterFlags, clusterRunFlags } from "../cluster/flags.js";
import { dataplaneRunFlags } from "../transport/dataplane-flags.js";

const PORT = { min: 0, max: 65535 };

export const runFlags: FlagSpec[] = [
  { name: "app-id", type: "string", help: "the app's id; other apps reach it by this name", aliases: ["a"] },
  { name: "app-port", type: "int", help: "port the app listens on (none: the app is not called)", ...PORT, aliases: ["p"] },
  { name: "app-protocol", type: "string", help: "how to call the app", default: "http", oneOf: ["http", "https", "grpc", "grpcs", "h2c"], aliases: ["P"] },
  { name: "app-channel-address", type: "string", help: "host the app listens on", default: "127.0.0.1" },
  { name: "dapr-http-port", type: "int", help: "HTTP API port", default: 3500, ...PORT, aliases: ["H"] },
  { name: "dapr-grpc-port", type: "int", help: "gRPC API port (gRPC, gRPC-Web, Connect)", default: 50001, ...PORT, aliases: ["G"] },
  { name: "dapr-internal-grpc-port", type: "int", help: "sidecar-to-sidecar port (0: any free port)", default: 0, ...PORT },
  { name: "metrics-port", type: "int", help: "Prometheus metrics port", default: 9090, ...PORT, aliases: ["M"] },
  { name: "enable-metrics", type: "bool", help: "serve Prometheus metrics", default: true },
  { name: "dapr-grpc-http1", type: "bool", help: "also serve Connect and gRPC-Web over HTTP/1.1 on the gRPC port (browsers); false: HTTP/2 only, faster", default: true },
  { name: "dapr-listen-addresses", type: "string", help: "address the APIs listen on", default: "127.0.0.1" },
  { name: "resources-path", type: "list", help: "folder of component YAML files (repeatable); none: embedded defaults", default: [], aliases: ["components-path", "d"] },
  { name: "plugins-path", type: "list", help: "folder or file of extra component plugins (repeatable)", default: [] },
  { name: "config", type: "string", help: "Configuration YAML file", aliases: ["c"] },
  { name: "log-level", type: "string", help: "log level", default: "info", oneOf: ["debug", "info", "warn", "error", "fatal"] },
  { name: "log-as-json", type: "bool", help: "write logs as JSON lines", default: false },
  { name: "app-max-concurrency", type: "int", help: "most calls in flight to the app (-1: unlimited)", default: -1, min: -1 },
  { name: "enable-app-health-check", type: "bool", help: "probe the app's health", default: false },
  { name: "app-health-check-path", type: "string", help: "path probed on an HTTP app", default: "/healthz" },
  { name: "app-health-probe-interval", type: "int", help: "seconds between app health probes", default: 5, min: 1 },
  { name: "app-health-probe-timeout", type: "int", help: "milliseconds a probe may take", default: 500, min: 1 },
  { name: "app-health-threshold", type: "int", help: "failed probes before the app counts as unhealthy", default: 3, min: 1 },
  { name: "dapr-http-max-request-size", type: "int", help: "largest request body, in MB", default: 4, min: 1, max: 4096 },
  { name: "dapr-http-read-buffer-size", type: "int", help: "accepted for compatibility (KB)", default: 4, min: 1 },
  { name: "data-dir", type: "string", help: "where embedded defaults keep their data", default: join(homedir(), ".rapr") },
  { name: "allowed-origins", type: "csv", help: "CORS origins allowed to call the APIs", default: ["*"] },
  { name: "dapr-graceful-shutdown-seconds", type: "int", help: "time the app gets to stop before it is killed", default: 5, min: 0 },
  { name: "enable-api-logging", type: "bool", help: "log every API call", default: false },
];

/** Blocks that bring flags of their own (cluster, dataplane, …) append them here. */
export const extraRunFlags: FlagSpec[] = [...pubsubRunFlags, ...invokeRunFlags, ...clusterRunFlags, ...dataplaneRunFlags];

export function allRunFlags(): FlagSpec[] {
  return [...runFlags, ...extraRunFlags];
}

export function toRuntimeConfig(v: FlagValues, appCommand: string[], env: Record<string, string | undefined>): RuntimeConfig {
  const appId = (v["app-id"] as string | undefined) ?? generatedAppId();
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/.test(appId) || appId.includes("||")) {
    throw new UsageError(`invalid value "${appId}" for flag --app-id: letters, digits, '.', '_' and '-' only, at most 63 characters`);
  }
  checkClusterFlags(v, env);
  checkPubsubFlags(v, env);
  const concurrency = v["app-max-concurrency"] as number;
  const known = new Set(runFlags.map((f) => f.name));
  const extra: RuntimeConfig["extra"] = {};
  for (const [k, val] of Object.entries(v)) if (!known.has(k)) extra[k] = val;
  const level = v["log-level"] as string;
  return {
    appId,
    appPort: v["app-port"] as number | undefined,
    appProtocol: v["app-protocol"] as AppProtocol,
    appChannelAddress: v["app-channel-address"] as string,
    appMaxConcurrency: concurrency > 0 ? concurrency : undefined,
    enableAppHealthCheck: v["enable-app-health-check"] as boolean,
    appHealthCheckPath: v["app-health-check-path"] as string,
    appHealthProbeIntervalMs: (v["app-health-probe-interval"] as number) * 1000,
    appHealthProbeTimeoutMs: v["app-health-probe-timeout"] as number,
    appHealthThreshold: v["app-health-threshold"] as number,
    httpPort: v["dapr-http-port"] as number,
    grpcPort: v["dapr-grpc-port"] as number,
    internalGrpcPort: v["dapr-internal-grpc-port"] as number,
    metricsPort: v["metrics-port"] as number,
    enableMetrics: v["enable-metrics"] as boolean,
    enableApiLogging: v["enable-api-logging"] as boolean,
    listenAddress: v["dapr-listen-addresses"] as string,
    grpcHttp1: v["dapr-grpc-http1"] as boolean,
    resourcesPaths: (v["resources-path"] as string[]).map((p) => resolve(p)),
    pluginsPaths: (v["plugins-path"] as string[]).map((p) => resolve(p)),
    configPath: v.config as string | undefined,
    logLevel: (level === "fatal" ? "error" : level) as LogLevel,
    logAsJson: v["log-as-json"] as boolean,
    maxRequestBodyBytes: (v["dapr-http-max-request-size"] as number) * 1024 * 1024,
    dataDir: resolve(v["data-dir"] as string),
    allowedOrigins: v["allowed-origins"] as string[],
    gracefulShutdownMs: (v["dapr-graceful-shutdown-seconds"] as number) * 1000,
    apiToken: env.DAPR_API_TOKEN || undefined,
    appApiToken: env.APP_API_TOKEN || undefined,
    appCommand,
    extra,
  };
}

function generatedAppId(): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 40) || "rapr";
  return `${host}-${Math.random().toString(36).slice(2, 8)}`;
}
