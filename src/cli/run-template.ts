// Dapr's multi-app run template (`dapr run -f`, dapr/cli pkg/runfileconfig): `version`, `common`, `apps[]`, read into
// one `rapr run` command line per app. App fields win over `common`; paths in `common` are relative to the template's
// folder, an app's to its `appDirPath`; an app's `.dapr/resources` and `.dapr/config.yaml` are used when present.
import { existsSync, statSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";
import { UsageError } from "./flags.js";

export type LogDestination = "console" | "file" | "fileAndConsole";

export interface TemplateApp {
  appId: string;
  appDir: string;
  /** `rapr run` flags (without the app command). */
  args: string[];
  command: string[];
  env: Record<string, string>;
  appLogDestination: LogDestination;
  daprdLogDestination: LogDestination;
}

/** Template field → `rapr run` flag, for values passed on as they are. */
const FLAG_FIELDS: Record<string, string> = {
  appID: "app-id",
  appChannelAddress: "app-channel-address",
  appPort: "app-port",
  daprHTTPPort: "dapr-http-port",
  daprGRPCPort: "dapr-grpc-port",
  daprInternalGRPCPort: "dapr-internal-grpc-port",
  metricsPort: "metrics-port",
  profilePort: "profile-port",
  appProtocol: "app-protocol",
  apiListenAddresses: "dapr-listen-addresses",
  enableProfiling: "enable-profiling",
  logLevel: "log-level",
  appMaxConcurrency: "app-max-concurrency",
  placementHostAddress: "placement-host-address",
  schedulerHostAddress: "scheduler-host-address",
  appSSL: "app-ssl",
  maxBodySize: "max-body-size",
  readBufferSize: "read-buffer-size",
  enableAppHealthCheck: "enable-app-health-check",
  appHealthCheckPath: "app-health-check-path",
  appHealthProbeInterval: "app-health-probe-interval",
  appHealthProbeTimeout: "app-health-probe-timeout",
  appHealthThreshold: "app-health-threshold",
  enableApiLogging: "enable-api-logging",
};
/** Fields of paths, resolved against the template's folder (common) or the app's folder. */
const PATH_FIELDS: Record<string, string> = { unixDomainSocket: "unix-domain-socket" };
const LOG_DESTINATIONS: LogDestination[] = ["console", "file", "fileAndConsole"];

/** A template file, or a folder holding dapr.yaml (or dapr.yml), as an absolute path. */
export function runTemplatePath(given: string): string {
  const path = resolve(expandHome(given));
  if (!existsSync(path)) throw new UsageError(`run template ${given}: no such file or folder`);
  if (!statSync(path).isDirectory()) return path;
  for (const name of ["dapr.yaml", "dapr.yml"]) if (existsSync(join(path, name))) return join(path, name);
  throw new UsageError(`run template ${given}: the folder holds no dapr.yaml`);
}

export function readRunTemplate(path: string): TemplateApp[] {
  let doc: any;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`run template ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  const bad = (what: string) => new UsageError(`run template ${path}: ${what}`);
  if (!doc || typeof doc !== "object") throw bad("expected a YAML mapping with version and apps");
  if (!doc.version) throw bad("required field 'version' is missing");
  const common = doc.common ?? {};
  if (typeof common !== "object") throw bad("'common' must be a mapping");
  if (!Array.isArray(doc.apps) || doc.apps.length === 0) throw bad("'apps' must list at least one app");
  const baseDir = dirname(path);
  const apps = doc.apps.map((app: any, i: number) => {
    if (!app || typeof app !== "object") throw bad(`apps[${i}] must be a mapping`);
    if (!app.appDirPath) throw bad(`apps[${i}]: required field 'appDirPath' is missing`);
    const appDir = resolvePath(baseDir, String(app.appDirPath));
    if (!existsSync(appDir) || !statSync(appDir).isDirectory()) throw bad(`apps[${i}]: appDirPath ${appDir} is not a folder`);
    return templateApp(app, common, appDir, baseDir, (what) => bad(`apps[${i}]: ${what}`));
  });
  const ids = new Set<string>();
  for (const a of apps) {
    if (ids.has(a.appId)) throw bad(`app id ${a.appId} appears twice`);
    ids.add(a.appId);
  }
  return apps;
}

function templateApp(app: any, common: any, appDir: string, baseDir: string, bad: (what: string) => UsageError): TemplateApp {
  const appId = String(app.appID ?? basename(appDir));
  const pick = (field: string) => (isSet(app[field]) ? app[field] : common[field]);
  const args: string[] = ["--app-id", appId];
  for (const [field, flag] of Object.entries(FLAG_FIELDS)) {
    if (field === "appID") continue;
    const value = pick(field);
    if (!isSet(value)) continue;
    args.push(`--${flag}`, field === "appProtocol" ? String(value).toLowerCase() : String(value));
  }
  for (const [field, flag] of Object.entries(PATH_FIELDS)) {
    if (isSet(app[field])) args.push(`--${flag}`, resolvePath(appDir, String(app[field])));
    else if (isSet(common[field])) args.push(`--${flag}`, resolvePath(baseDir, String(common[field])));
  }
  for (const p of resourcesPaths(app, common, appDir, baseDir)) args.push("--resources-path", p);
  const config = isSet(app.configFilePath) ? resolvePath(appDir, app.configFilePath) : existsSync(join(appDir, ".dapr", "config.yaml")) ? join(appDir, ".dapr", "config.yaml") : isSet(common.configFilePath) ? resolvePath(baseDir, common.configFilePath) : undefined;
  if (config) args.push("--config", config);
  const command = app.command ?? [];
  if (!Array.isArray(command) || command.some((c) => typeof c !== "string")) throw bad("'command' must be a list of strings");
  return {
    appId,
    appDir,
    args,
    command,
    env: { ...stringMap(common.env), ...stringMap(app.env) },
    appLogDestination: logDestination(pick("appLogDestination") ?? "fileAndConsole", bad),
    daprdLogDestination: logDestination(pick("daprdLogDestination") ?? "file", bad),
  };
}

function resourcesPaths(app: any, common: any, appDir: string, baseDir: string): string[] {
  const of = (spec: any, dir: string) => [...(Array.isArray(spec.resourcesPaths) ? spec.resourcesPaths : []), ...(isSet(spec.resourcesPath) ? [spec.resourcesPath] : [])].map((p: unknown) => resolvePath(dir, String(p)));
  const own = of(app, appDir);
  if (own.length) return own;
  const local = join(appDir, ".dapr", "resources");
  if (existsSync(local)) return [local];
  return of(common, baseDir); // none: rapr's embedded defaults
}

function logDestination(value: unknown, bad: (what: string) => UsageError): LogDestination {
  if (LOG_DESTINATIONS.includes(value as LogDestination)) return value as LogDestination;
  throw bad(`log destination must be one of ${LOG_DESTINATIONS.join(", ")}, got ${JSON.stringify(value)}`);
}

/** Unset in the dapr CLI's sense: absent, empty, or the -1 / 0 its integer fields default to. */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && v !== "" && v !== -1 && v !== 0 && v !== false;
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== "object") return {};
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, String(val)]));
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

function resolvePath(base: string, p: string): string {
  const expanded = expandHome(p);
  return isAbsolute(expanded) ? expanded : resolve(base, expanded);
}
