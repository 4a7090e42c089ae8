import type { LogLevel } from "../observability/logger.js";

export interface AppOutput {
  file: string;
  destination: "console" | "file" | "fileAndConsole";
  /** Where "console" output goes when not rapr's own stdout/stderr (`rapr run -f` hands its console down). */
  consoleFd?: number;
  /** Written before each line (`rapr run -f`: "== APP - <id> == ", as the dapr CLI writes them). */
  linePrefix?: string;
}

export type AppProtocol = "http" | "https" | "grpc" | "grpcs" | "h2c";

/** Everything `rapr run` was told, typed and validated. */
export interface RuntimeConfig {
  appId: string;
  appPort?: number;
  appProtocol: AppProtocol;
  appChannelAddress: string;
  appMaxConcurrency?: number;
  enableAppHealthCheck: boolean;
  appHealthCheckPath: string;
  appHealthProbeIntervalMs: number;
  appHealthProbeTimeoutMs: number;
  appHealthThreshold: number;
  httpPort: number;
  grpcPort: number;
  internalGrpcPort: number;
  metricsPort: number;
  enableMetrics: boolean;
  enableApiLogging: boolean;
  listenAddress: string;
  /** Also serve HTTP/1.1 (Connect, gRPC-Web from browsers) on the gRPC port. */
  grpcHttp1: boolean;
  resourcesPaths: string[];
  pluginsPaths: string[];
  configPath?: string;
  logLevel: LogLevel;
  logAsJson: boolean;
  maxRequestBodyBytes: number;
  /** --unix-domain-socket: the APIs listen on sockets in this directory instead of TCP ports. */
  unixDomainSocketDir?: string;
  dataDir: string;
  allowedOrigins: string[];
  gracefulShutdownMs: number;
  /** DAPR_API_TOKEN from the environment: required on every API call when set. */
  apiToken?: string;
  /** APP_API_TOKEN: sent to the app on every call when set. */
  appApiToken?: string;
  /** The app to launch (everything after `--`). */
  appCommand: string[];
  /** --app-log-file: the app's output also (or only) goes to this file. */
  appOutput?: AppOutput;
  /** --disable-init-endpoints: app endpoints daprd does not call at start ("subscribe", "config"). */
  disableInitEndpoints?: string[];
  /** Each block's typed options (its manifest's parseOptions), by block name. */
  blockOptions: Record<string, unknown>;
}
