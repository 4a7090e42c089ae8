// Names which of rapr's ports a listen failure was about: "listen EADDRINUSE 127.0.0.1:3500" alone does not say.
import type { RuntimeConfig } from "../runtime/config.js";

export function explainListenError(err: unknown, config: RuntimeConfig): string | undefined {
  const e = err as { code?: string; port?: number; message?: string } | undefined;
  if (e?.code !== "EADDRINUSE") return undefined;
  const port = e.port ?? Number(/(?::|port )(\d+)\b/.exec(e.message ?? "")?.[1]);
  const flags: [string, number | undefined][] = [
    ["--dapr-http-port", config.httpPort],
    ["--dapr-grpc-port", config.grpcPort],
    ["--dapr-internal-grpc-port", config.internalGrpcPort],
  ];
  const flag = flags.find(([, p]) => p === port)?.[0];
  if (!flag) return `port ${port} is already in use`;
  return `port ${port} of ${flag} is already in use (another sidecar or the app?); give ${flag} another port, or leave it out with an app command to get a free one`;
}
