// Where an API server listens: a TCP port, or with --unix-domain-socket a socket file named as daprd names them
// (<dir>/dapr-http-<app-id>.socket, <dir>/dapr-grpc-<app-id>.socket).
import { mkdirSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { RuntimeConfig } from "../runtime/config.js";

export type ApiListen = { unix: string } | { port: number; hostname: string };

export function apiListen(config: RuntimeConfig, api: "http" | "grpc"): ApiListen {
  if (!config.unixDomainSocketDir) return { port: api === "http" ? config.httpPort : config.grpcPort, hostname: config.listenAddress };
  mkdirSync(config.unixDomainSocketDir, { recursive: true });
  const unix = apiSocketPath(config.unixDomainSocketDir, config.appId, api);
  rmSync(unix, { force: true }); // left by a sidecar of this app id that did not stop cleanly
  return { unix };
}

export function apiSocketPath(dir: string, appId: string, api: "http" | "grpc"): string {
  return join(dir, `dapr-${api}-${appId}.socket`);
}

/** Listens a node server where apiListen says. */
export function listenNodeServer(server: { listen(...args: any[]): unknown }, where: ApiListen, done: () => void): void {
  if ("unix" in where) server.listen(where.unix, done);
  else server.listen(where.port, where.hostname, done);
}

/** The TCP port a node server got (0 on a unix socket). */
export function boundPort(address: string | AddressInfo | null): number {
  return address && typeof address === "object" ? address.port : 0;
}
