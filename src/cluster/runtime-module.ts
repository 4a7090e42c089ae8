// The cluster block: join on start (before service invocation, which then resolves app ids through membership),
// publish this sidecar's ports as member metadata, leave on shutdown; its members on both API fronts (api.ts).
import { defineBlock, type BlockHost, type BlockInstance } from "../runtime/block.js";
import type { NameResolver } from "../components/contracts/nameresolution.js";
import { definePlugin } from "../components/plugin.js";
import { parseMetadata } from "../components/metadata-schema.js";
import { Cluster } from "../gen/rapr/v1/cluster_pb.js";
import type { ClusterNode } from "./index.js";
import { clusterEndpoints, clusterService, clusterSlot } from "./api.js";
import { ClusterResolver } from "./resolver.js";
import { clusterOptions, clusterRunFlags, type ClusterOptions } from "./flags.js";

const PORT_WAIT_MS = 60_000;

export const clusterManifest = defineBlock<ClusterOptions | undefined>({
  name: "cluster",
  flags: clusterRunFlags,
  parseOptions: clusterOptions,
  http: clusterEndpoints,
  grpc: (api) => [{ service: Cluster, impl: clusterService(api) }],
  create: (host, options) => (options ? clusterModule(host, options) : undefined),
});

function clusterModule(host: BlockHost, o: ClusterOptions): BlockInstance {
  let node: ClusterNode | undefined;
  let portTimer: ReturnType<typeof setInterval> | undefined;
  return {
    async start() {
      const log = host.logger.child("cluster");
      // Loaded only with --cluster: hyperswarm, the DHT and UDX are ~11 MB of a sidecar's memory.
      const { createClusterNode } = await import("./index.js");
      node = await createClusterNode({
        name: o.name,
        secret: o.secret,
        metadata: { appId: host.config.appId },
        bootstrap: o.bootstrap,
        peers: o.peers,
        discovery: o.dht,
        host: o.host,
        port: o.port,
        advertiseHost: o.advertiseHost,
        id: o.memberId,
        dhtHost: o.dhtHost,
        swim: o.swim,
        log: (level, msg, fields) => log[level](msg, fields),
      });
      const n = node;
      n.on("event", (e) => log.info(`member ${e.type}`, { member: e.member.id, app_id: e.member.metadata.appId, incarnation: e.member.incarnation }));
      host.provide(clusterSlot, n);
      await useClusterNameResolution(host, n);
      host.metadata.contribute((snap) => {
        const members = n.members();
        snap.extended["rapr.cluster.name"] = o.name;
        snap.extended["rapr.cluster.self"] = n.id;
        snap.extended["rapr.cluster.members"] = String(members.filter((m) => m.state === "alive").length);
        snap.extended["rapr.cluster.discovery"] = n.discoveryStatus()?.state ?? "off";
      });
      // The API ports are known only once the servers listen, after every module has started.
      const deadline = Date.now() + PORT_WAIT_MS;
      portTimer = setInterval(() => {
        const ports = host.apiPorts();
        if (ports.http === undefined && Date.now() < deadline) return;
        clearInterval(portTimer);
        const own = n.member(n.id)?.metadata ?? {};
        n.setMetadata({ ...own, httpPort: String(ports.http ?? ""), grpcPort: String(ports.grpc ?? "") });
      }, 50);
      portTimer.unref?.();
      log.info("joined cluster", { cluster: o.name, member: n.id, address: n.address });
    },
    async stop() {
      if (portTimer) clearInterval(portTimer);
      host.provide(clusterSlot, undefined);
      await node?.leave();
    },
  };
}

/** Unless a nameresolution component was configured, invocation resolves app ids through membership,
 * falling back to the default same-host resolver (nameresolution.local) for apps outside the cluster. */
async function useClusterNameResolution(host: BlockHost, node: ClusterNode): Promise<void> {
  const registry = host.registry;
  if (registry.list("nameresolution").length > 0) return;
  const local = registry.plugin("nameresolution.local");
  const fallback: NameResolver | undefined = local
    ? await local.create(parseMetadata(local.metadata, {}), {
        name: "nameresolution",
        appId: host.config.appId,
        dataDir: host.config.dataDir,
        logger: host.logger.child("nameresolution.local"),
      })
    : undefined;
  registry.registerPlugin(
    definePlugin({ type: "nameresolution.cluster", metadata: {}, create: async () => new ClusterResolver(node, fallback) }),
  );
  await registry.load({
    name: "nameresolution",
    type: "nameresolution.cluster",
    version: "v1",
    metadata: [],
    ignoreErrors: false,
    scopes: [],
    source: "--cluster",
  });
}
