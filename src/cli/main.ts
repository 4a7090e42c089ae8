// rapr's command line: `rapr run`, `rapr version`, `rapr --help`.
import { createLogger } from "../observability/logger.js";
import { Runtime, StartAbortedError } from "../runtime/runtime.js";
import { RAPR_VERSION } from "../version.js";
import { formatHelp, parseFlags, UsageError } from "./flags.js";
import { allRunFlags, toRuntimeConfig } from "./run-flags.js";
import { subscriberToken, subscriberTokenFlags } from "./subscriber-token.js";
import { newClusterSecret } from "../cluster/keys.js";

const USAGE = `rapr — a distributed application runtime, compatible with Dapr's APIs.

Usage:
  rapr run [flags] [-- <app command...>]   start the sidecar (and the app, if given)
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
        process.stdout.write(USAGE + formatHelp(allRunFlags()) + "\n");
        return cmd === undefined ? 2 : 0;
      case "version":
      case "--version":
      case "-v":
        process.stdout.write(`rapr ${RAPR_VERSION} (bun ${Bun.version})\n`);
        return 0;
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
      case "run":
        if (args.includes("--help") || args.includes("-h")) {
          process.stdout.write(USAGE + formatHelp(allRunFlags()) + "\n");
          return 0;
        }
        return await run(args);
      default:
        throw new UsageError(`unknown command "${cmd}" (commands: run, subscriber-token, cluster-secret, version, help)`);
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
  const { values, rest } = parseFlags(allRunFlags(), args);
  const config = toRuntimeConfig(values, rest, process.env);
  const logger = createLogger({ level: (process.env.RAPR_LOG_LEVEL as any) ?? config.logLevel, json: config.logAsJson, appId: config.appId });
  const runtime = new Runtime(config, logger);
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
    logger.error("start-up failed", { error: err });
    process.stderr.write(`rapr: ${err instanceof Error ? err.message : String(err)}\n`);
    await runtime.stop("start-up failed");
    return 1;
  }
  return await runtime.finished;
}
