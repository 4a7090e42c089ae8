// The flags of `rapr run`, and how they become a RuntimeConfig.
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import type { LogLevel } from "../observability/logger.js";
import type { AppOutput, AppProtocol, RuntimeConfig } from "../runtime/config.js";
import { UsageError, type FlagSpec, type FlagValues } from "./flags.js";
import { blockFlags, parseBlockOptions, type BlockManifest } from "../runtime/block.js";
import { daprdCompatFlags } from "./daprd-compat-flags.js";

const PORT = { min: 0, max: 65535 };

export const runFlags: FlagSpec[] = [
  { name: "app-id", type: "string", help: "the app's id; other apps reach it by this name", aliases: ["a"] },
  { name: "app-port", type: "int", help: "port the app listens on (none, 0 or -1 as dapr run writes it: the app is not called)", ...PORT, min: -1, aliases: ["p"] },
  { name: "app-protocol", type: "string", help: "how to call the app", default: "http", oneOf: ["http", "https", "grpc", "grpcs", "h2c"], aliases: ["P"] },
  { name: "app-channel-address", type: "string", help: "host the app listens on", default: "127.0.0.1" },
  { name: "dapr-http-port", type: "int", help: "HTTP API port (with an app command and not given: a free port)", default: 3500, ...PORT, aliases: ["H"] },
  { name: "dapr-grpc-port", type: "int", help: "gRPC API port (gRPC, gRPC-Web, Connect; with an app command and not given: a free port)", default: 50001, ...PORT, aliases: ["G"] },
  { name: "dapr-internal-grpc-port", type: "int", help: "sidecar-to-sidecar port (0: any free port)", default: 0, ...PORT, aliases: ["I"] },
  { name: "metrics-port", type: "int", help: "Prometheus metrics port (with an app command and not given: a free port)", default: 9090, ...PORT, aliases: ["M"] },
  { name: "enable-metrics", type: "bool", help: "serve Prometheus metrics", default: true },
  { name: "dapr-grpc-http1", type: "bool", help: "also serve Connect and gRPC-Web over HTTP/1.1 on the gRPC port (browsers); false: HTTP/2 only, faster", default: true },
  { name: "dapr-listen-addresses", type: "string", help: "address the APIs listen on (of a comma-separated list as daprd takes: the first IPv4 one)", default: "127.0.0.1" },
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
  { name: "dapr-http-max-request-size", type: "int", help: "largest request body, in MB (-1: the default, as Kubernetes specs write it)", default: 4, min: -1, max: 4096 },
  { name: "dapr-http-read-buffer-size", type: "int", help: "accepted for compatibility (KB)", default: 4, min: -1 },
  { name: "data-dir", type: "string", help: "where embedded defaults keep their data", default: join(homedir(), ".rapr") },
  { name: "allowed-origins", type: "csv", help: "CORS origins allowed to call the APIs", default: ["*"] },
  { name: "dapr-graceful-shutdown-seconds", type: "int", help: "time the app gets to stop before it is killed (-1: the default)", default: 5, min: -1 },
  { name: "enable-api-logging", type: "bool", help: "log every API call", default: false },
  { name: "run-file", type: "string", help: "run every app of a Dapr run template (a dapr.yaml, or a folder holding one)", aliases: ["f"] },
  { name: "app-log-file", type: "string", help: "also write the app's output to this file (rapr run -f sets it)" },
  { name: "app-log-destination", type: "string", help: "where the app's output goes with --app-log-file", default: "fileAndConsole", oneOf: ["console", "file", "fileAndConsole"] },
  ...daprdCompatFlags,
];

/** The ports `dapr run` picks free ones for when the user did not set them, with the flag that sets each. */
const APP_RUN_PORTS = [["dapr-http-port", "httpPort"], ["dapr-grpc-port", "grpcPort"], ["metrics-port", "metricsPort"]] as const;

/** The sidecar's flags and every block's. */
export function allRunFlags(blocks: readonly BlockManifest<any>[]): FlagSpec[] {
  return [...runFlags, ...blockFlags(blocks)];
}

/**
 * `given` names the flags the user set: with an app command, the API and metrics ports left unset get free ones (as
 * `dapr run` does; the app learns them from DAPR_HTTP_PORT / DAPR_GRPC_PORT), so they cannot collide with its own.
 */
export function toRuntimeConfig(blocks: readonly BlockManifest<any>[], v: FlagValues, appCommand: string[], env: Record<string, string | undefined>, given?: Set<string>): RuntimeConfig {
  const appId = (v["app-id"] as string | undefined) ?? generatedAppId();
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/.test(appId) || appId.includes("||")) {
    throw new UsageError(`invalid value "${appId}" for flag --app-id: letters, digits, '.', '_' and '-' only, at most 63 characters`);
  }
  const blockOptions = parseBlockOptions(blocks, v, env);
  const concurrency = v["app-max-concurrency"] as number;
  const level = v["log-level"] as string;
  const ports = { httpPort: v["dapr-http-port"] as number, grpcPort: v["dapr-grpc-port"] as number, metricsPort: v["metrics-port"] as number };
  if (appCommand.length && given) for (const [flag, key] of APP_RUN_PORTS) if (!given.has(flag)) ports[key] = 0;
  checkDistinctPorts(v, given);
  let appProtocol = v["app-protocol"] as AppProtocol;
  if (v["app-ssl"] === true) appProtocol = appProtocol === "grpc" ? "grpcs" : appProtocol === "http" ? "https" : appProtocol;
  const maxBody = (v["max-body-size"] as number | undefined) ?? orDefault(v, "dapr-http-max-request-size", 1) * 1024 * 1024;
  return {
    appId,
    appPort: appPortOf(v),
    appProtocol,
    appChannelAddress: v["app-channel-address"] as string,
    appMaxConcurrency: concurrency > 0 ? concurrency : undefined,
    enableAppHealthCheck: v["enable-app-health-check"] as boolean,
    appHealthCheckPath: v["app-health-check-path"] as string,
    appHealthProbeIntervalMs: (v["app-health-probe-interval"] as number) * 1000,
    appHealthProbeTimeoutMs: v["app-health-probe-timeout"] as number,
    appHealthThreshold: v["app-health-threshold"] as number,
    ...ports,
    internalGrpcPort: v["dapr-internal-grpc-port"] as number,
    enableMetrics: v["enable-metrics"] as boolean,
    enableApiLogging: v["enable-api-logging"] as boolean,
    listenAddress: firstListenAddress(v["dapr-listen-addresses"] as string),
    grpcHttp1: v["dapr-grpc-http1"] as boolean,
    resourcesPaths: (v["resources-path"] as string[]).map((p) => resolve(p)),
    pluginsPaths: (v["plugins-path"] as string[]).map((p) => resolve(p)),
    configPath: v.config as string | undefined,
    logLevel: (level === "fatal" ? "error" : level) as LogLevel,
    logAsJson: v["log-as-json"] as boolean,
    maxRequestBodyBytes: maxBody,
    unixDomainSocketDir: v["unix-domain-socket"] ? resolve(v["unix-domain-socket"] as string) : undefined,
    dataDir: resolve(v["data-dir"] as string),
    allowedOrigins: v["allowed-origins"] as string[],
    gracefulShutdownMs: orDefault(v, "dapr-graceful-shutdown-seconds") * 1000,
    apiToken: env.DAPR_API_TOKEN || undefined,
    appApiToken: env.APP_API_TOKEN || undefined,
    appCommand,
    disableInitEndpoints: v["disable-init-endpoints"] as string[] | undefined,
    appOutput: v["app-log-file"] ? { file: resolve(v["app-log-file"] as string), destination: v["app-log-destination"] as AppOutput["destination"] } : undefined,
    blockOptions,
  };
}

/** `dapr run` writes --app-port 0 for an app without a port (daprd then opens no app channel); -1 is its unset. */
function appPortOf(v: FlagValues): number | undefined {
  const port = v["app-port"] as number | undefined;
  return port !== undefined && port > 0 ? port : undefined;
}

/** A number below `least` (Kubernetes sidecar specs write -1 for "not set") means the flag's default. */
function orDefault(v: FlagValues, flag: string, least = 0): number {
  const n = v[flag] as number;
  return n >= least ? n : (runFlags.find((f) => f.name === flag)!.default as number);
}

/** daprd takes a comma-separated list ("[::1],127.0.0.1"); rapr listens on one address: the first IPv4 one. */
function firstListenAddress(list: string): string {
  const addresses = list.split(",").map((a) => a.trim().replace(/^\[(.*)\]$/, "$1")).filter(Boolean);
  return addresses.find((a) => !a.includes(":")) ?? addresses[0] ?? "127.0.0.1";
}

/** Two of rapr's listeners given the same port would fail at start with EADDRINUSE; say so up front instead. */
function checkDistinctPorts(v: FlagValues, given: Set<string> | undefined): void {
  const byPort = new Map<number, string>();
  for (const flag of ["dapr-http-port", "dapr-grpc-port", "metrics-port", "dapr-internal-grpc-port", "app-port"]) {
    const port = v[flag] as number | undefined;
    if (!port || (given && !given.has(flag))) continue;
    const other = byPort.get(port);
    if (other) throw new UsageError(`--${other} and --${flag} are both ${port}: each needs a port of its own`);
    byPort.set(port, flag);
  }
}

function generatedAppId(): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 40) || "rapr";
  return `${host}-${Math.random().toString(36).slice(2, 8)}`;
}
