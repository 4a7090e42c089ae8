// Clustering's lifecycle in the runtime: join on start (before service invocation, which then resolves
// app ids through membership), publish this sidecar's ports as member metadata, leave on shutdown.
import type { Runtime, RuntimeModule } from "../runtime/runtime.js";
import type { NameResolver } from "../components/contracts/nameresolution.js";
import { definePlugin } from "../components/plugin.js";
import { parseMetadata } from "../components/metadata-schema.js";
import { builtinPlugins } from "../../plugins/index.js";
import type { ClusterNode } from "./index.js";
import { attachCluster } from "./api.js";
import { ClusterResolver } from "./resolver.js";
import { clusterSecret } from "./flags.js";

const PORT_WAIT_MS = 60_000;

export function clusterModule(rt: Runtime): RuntimeModule | undefined {
  const x = rt.config.extra;
  const name = x["cluster"] as string | undefined;
  if (!name) return undefined;
  let node: ClusterNode | undefined;
  let portTimer: ReturnType<typeof setInterval> | undefined;
  return {
    name: "cluster",
    async start(rt: Runtime) {
      const log = rt.logger.child("cluster");
      const secret = clusterSecret(x, process.env);
      if (!secret) throw new Error("--cluster needs --cluster-secret (or RAPR_CLUSTER_SECRET)");
      const list = (k: string) => ((x[k] as string[] | undefined) ?? []).filter(Boolean);
      // Loaded only with --cluster: hyperswarm, the DHT and UDX are ~11 MB of a sidecar's memory.
      const { createClusterNode } = await import("./index.js");
      node = await createClusterNode({
        name,
        secret,
        metadata: { appId: rt.config.appId },
        bootstrap: list("cluster-bootstrap"),
        peers: list("cluster-peers"),
        discovery: x["cluster-dht"] !== false,
        host: x["cluster-host"] as string | undefined,
        port: x["cluster-port"] as number | undefined,
        advertiseHost: x["cluster-advertise-host"] as string | undefined,
        id: (x["cluster-member-id"] as string | undefined) || undefined,
        dhtHost: process.env.RAPR_CLUSTER_DHT_HOST || undefined,
        swim: {
          probeIntervalMs: x["cluster-probe-interval"] as number,
          probeTimeoutMs: x["cluster-probe-timeout"] as number,
          indirectChecks: x["cluster-indirect-checks"] as number,
          suspicionMult: x["cluster-suspicion-mult"] as number,
          syncIntervalMs: x["cluster-sync-interval"] as number,
        },
        log: (level, msg, fields) => log[level](msg, fields),
      });
      const n = node;
      n.on("event", (e) => log.info(`member ${e.type}`, { member: e.member.id, app_id: e.member.metadata.appId, incarnation: e.member.incarnation }));
      attachCluster(rt.api, n);
      await useClusterNameResolution(rt, n);
      rt.api.metadata.contribute((snap) => {
        const members = n.members();
        snap.extended["rapr.cluster.name"] = name;
        snap.extended["rapr.cluster.self"] = n.id;
        snap.extended["rapr.cluster.members"] = String(members.filter((m) => m.state === "alive").length);
        snap.extended["rapr.cluster.discovery"] = n.discoveryStatus()?.state ?? "off";
      });
      // The API ports are known only once the servers listen, after every module has started.
      const deadline = Date.now() + PORT_WAIT_MS;
      portTimer = setInterval(() => {
        if (rt.httpPort === undefined && Date.now() < deadline) return;
        clearInterval(portTimer);
        const own = n.member(n.id)?.metadata ?? {};
        n.setMetadata({ ...own, httpPort: String(rt.httpPort ?? ""), grpcPort: String(rt.grpcPort ?? "") });
      }, 50);
      portTimer.unref?.();
      log.info("joined cluster", { cluster: name, member: n.id, address: n.address });
    },
    async stop() {
      if (portTimer) clearInterval(portTimer);
      attachCluster(rt.api, undefined);
      await node?.leave();
    },
  };
}

/** Unless a nameresolution component was configured, invocation resolves app ids through membership,
 * falling back to the default same-host resolver (nameresolution.local) for apps outside the cluster. */
async function useClusterNameResolution(rt: Runtime, node: ClusterNode): Promise<void> {
  if (rt.registry.list("nameresolution").length > 0) return;
  const local = builtinPlugins.find((p) => p.type === "nameresolution.local");
  const fallback: NameResolver | undefined = local
    ? await local.create(parseMetadata(local.metadata, {}), {
        name: "nameresolution",
        appId: rt.config.appId,
        dataDir: rt.config.dataDir,
        logger: rt.logger.child("nameresolution.local"),
      })
    : undefined;
  rt.registry.registerPlugin(
    definePlugin({ type: "nameresolution.cluster", metadata: {}, create: async () => new ClusterResolver(node, fallback) }),
  );
  await rt.registry.load({
    name: "nameresolution",
    type: "nameresolution.cluster",
    version: "v1",
    metadata: [],
    ignoreErrors: false,
    scopes: [],
    source: "--cluster",
  });
}
