// rapr's command line: `rapr run`, `rapr version`, `rapr --help`.
import { createLogger, type Logger } from "../observability/logger.js";
import { Runtime, StartAbortedError } from "../runtime/runtime.js";
import { RAPR_VERSION } from "../version.js";
import { formatHelp, inertFlagsWarning, parseFlags, UsageError } from "./flags.js";
import { allRunFlags, toRuntimeConfig } from "./run-flags.js";
import { configurationWarning } from "../security/configuration.js";
import { runTemplate } from "./multi-run.js";
import { explainListenError } from "./port-conflict.js";
import { registerSidecar, RUN_TEMPLATE_ENV, type SidecarRecord } from "./sidecar-registry.js";
import { list, listFlags, stop, stopFlags } from "./stop-list.js";
import { subscriberToken, subscriberTokenFlags } from "./subscriber-token.js";
import { newClusterSecret } from "../cluster/keys.js";
// The wiring: the built-in blocks and plugins are handed to the runtime here, so the core imports neither.
import { builtinBlocks } from "../blocks/index.js";
import { builtinPlugins } from "../../plugins/index.js";

const USAGE = `rapr — a distributed application runtime, compatible with Dapr's APIs.

Usage:
  rapr run [flags] [-- <app command...>]   start the sidecar (and the app, if given)
  rapr run -f <dapr.yaml or its folder>    start every app of a Dapr run template, each with its sidecar
  rapr list [-o json]                     the sidecars running on this machine
  rapr stop --app-id <id> | -f <template> stop sidecars (and their apps)
  rapr subscriber-token --subject <who> --topics <pubsub/topic,...> [--ttl s] [--secret s]
                                          mint a token for a subscriber outside the cluster
  rapr cluster-secret                     print a new random secret for --cluster-secret
  rapr version                            print the version
  rapr --help | rapr run --help           this help

Flags of rapr run:
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  try {
    switch (cmd) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE + formatHelp(allRunFlags(builtinBlocks)) + "\n");
        return cmd === undefined ? 2 : 0;
      case "version":
      case "--version":
      case "-v":
        return printVersion();
      case "subscriber-token":
        if (args.includes("--help") || args.includes("-h")) {
          process.stdout.write(`Flags of rapr subscriber-token:\n${formatHelp(subscriberTokenFlags)}\n`);
          return 0;
        }
        process.stdout.write(subscriberToken(args, process.env) + "\n");
        return 0;
      case "cluster-secret":
        if (args[0] === "--help" || args[0] === "-h") {
          process.stdout.write("rapr cluster-secret: prints 256 random bits (base64url) for --cluster-secret or RAPR_CLUSTER_SECRET\n");
          return 0;
        }
        if (args.length > 0) throw new UsageError(`rapr cluster-secret takes no arguments (got "${args[0]}")`);
        process.stdout.write(newClusterSecret() + "\n");
        return 0;
      case "list":
        if (args.includes("--help") || args.includes("-h")) {
          process.stdout.write(`Flags of rapr list:\n${formatHelp(listFlags)}\n`);
          return 0;
        }
        process.stdout.write(list(args) + "\n");
        return 0;
      case "stop":
        if (args.includes("--help") || args.includes("-h")) {
          process.stdout.write(`Flags of rapr stop:\n${formatHelp(stopFlags)}\n`);
          return 0;
        }
        return await stop(args, (line) => process.stdout.write(line + "\n"));
      case "run":
        if (args.includes("--help") || args.includes("-h")) {
          process.stdout.write(USAGE + formatHelp(allRunFlags(builtinBlocks)) + "\n");
          return 0;
        }
        return await run(args);
      default:
        throw new UsageError(`unknown command "${cmd}" (commands: run, list, stop, subscriber-token, cluster-secret, version, help)`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`rapr: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`rapr: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function run(args: string[]): Promise<number> {
  const { values, rest, given } = parseFlags(allRunFlags(builtinBlocks), args);
  if (values.version || values["build-info"]) return printVersion(); // as daprd --version
  if (values["run-file"] !== undefined) {
    if (rest.length) throw new UsageError("rapr run -f takes no app command: the run template names each app's command");
    return await runTemplate(values["run-file"] as string);
  }
  const config = toRuntimeConfig(builtinBlocks, values, rest, process.env, given);
  const logger = createLogger({ level: (process.env.RAPR_LOG_LEVEL as any) ?? config.logLevel, json: config.logAsJson, appId: config.appId });
  for (const warning of [inertFlagsWarning(allRunFlags(builtinBlocks), given), configurationWarning(config.configPath)]) if (warning) logger.warn(warning);
  const { consoleFd, ...template } = takeRunTemplateEnv();
  if (config.appOutput && consoleFd) Object.assign(config.appOutput, { consoleFd, linePrefix: `== APP - ${config.appId} == ` });
  const runtime = new Runtime(config, logger, { blocks: builtinBlocks, plugins: builtinPlugins });
  let signals = 0;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      // A second signal while stopping: the operator wants out now.
      if (++signals > 1) {
        logger.warn("second signal while stopping: exiting at once", { signal: sig });
        runtime.exitNow(1);
      }
      runtime.stop(`signal ${sig}`);
    });
  }
  // A failure in one background task (a broker reconnect, a sweeper) must not take the sidecar down.
  process.on("unhandledRejection", (reason) => logger.error("unhandled rejection", { error: reason }));
  process.on("uncaughtException", (err) => logger.error("uncaught exception", { error: err, stack: err.stack }));
  try {
    await runtime.start();
  } catch (err) {
    if (err instanceof StartAbortedError) return await runtime.finished; // a signal during start-up
    const message = explainListenError(err, config) ?? (err instanceof Error ? err.message : String(err));
    logger.error("start-up failed", { error: message });
    process.stderr.write(`rapr: ${message}\n`);
    await runtime.stop("start-up failed");
    return 1;
  }
  const unregister = recordSidecar(logger, {
    appId: config.appId,
    pid: process.pid,
    httpPort: runtime.httpPort,
    grpcPort: runtime.grpcPort,
    appPort: config.appPort,
    unixDomainSocket: config.unixDomainSocketDir,
    command: config.appCommand.join(" "),
    appPid: runtime.appPid,
    created: Date.now(),
    ...template,
  });
  try {
    return await runtime.finished;
  } finally {
    unregister();
  }
}

function printVersion(): number {
  process.stdout.write(`rapr ${RAPR_VERSION} (bun ${Bun.version})\n`);
  return 0;
}

/** A sidecar that cannot write its record (a read-only home) still runs; only `rapr list` and `rapr stop` miss it. */
function recordSidecar(logger: Logger, record: SidecarRecord): () => void {
  try {
    return registerSidecar(record);
  } catch (err) {
    logger.warn("cannot record this sidecar for rapr list and rapr stop", { error: err });
    return () => {};
  }
}

/** What `rapr run -f` told this sidecar about itself, taken out of the environment the app inherits. */
function takeRunTemplateEnv() {
  const env = process.env;
  const out = {
    cliPid: env[RUN_TEMPLATE_ENV.cliPid] ? Number(env[RUN_TEMPLATE_ENV.cliPid]) : undefined,
    runTemplatePath: env[RUN_TEMPLATE_ENV.path],
    appLogPath: env[RUN_TEMPLATE_ENV.appLog],
    daprdLogPath: env[RUN_TEMPLATE_ENV.daprdLog],
    consoleFd: env[RUN_TEMPLATE_ENV.consoleFd] ? Number(env[RUN_TEMPLATE_ENV.consoleFd]) : undefined,
  };
  for (const name of Object.values(RUN_TEMPLATE_ENV)) delete env[name];
  return out;
}
