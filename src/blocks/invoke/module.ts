// Wires service invocation into a sidecar: certificates, the sidecar transport, name resolution,
// resiliency and access control; sets ctx.invoke for the API fronts and other blocks.
import { homedir } from "node:os";
import { join } from "node:path";
import type { ComponentSpec } from "../../components/component.js";
import { DEFAULT_NAMESPACE, type NameResolver } from "../../components/contracts/nameresolution.js";
import { issueLeaf, loadGivenCerts, loadOrCreateCa, type TlsMaterial } from "../../security/ca.js";
import { readInvocationConfiguration } from "../../security/configuration.js";
import { createDataplane } from "../../transport/dataplane.js";
import { dataplaneFlags } from "../../transport/dataplane-flags.js";
import { MtlsTransport } from "../../transport/mtls/index.js";
import type { Transport } from "../../transport/transport.js";
import type { Runtime, RuntimeModule } from "../../runtime/runtime.js";
import { InvokeBlock } from "./invoke-block.js";
import { parseHttpEndpoints, readyEndpoint, type HttpEndpoint } from "./http-endpoints.js";

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

export function invokeModule(rt: Runtime): RuntimeModule {
  let transport: Transport | undefined;
  let resolver: NameResolver | undefined;
  return {
    name: "invoke",
    async start(rt) {
      const c = rt.config;
      const x = c.extra;
      const namespace = str(x.namespace) ?? process.env.NAMESPACE ?? DEFAULT_NAMESPACE;
      const trustDomain = str(x["trust-domain"]) ?? "public";
      const mtls = x["enable-mtls"] !== false;
      const conf = readInvocationConfiguration(c.configPath);
      const log = rt.logger.child("invoke");

      let tls: TlsMaterial | undefined;
      if (mtls) {
        const certFile = str(x["mtls-cert-file"]);
        const keyFile = str(x["mtls-key-file"]);
        const caFile = str(x["mtls-ca-file"]);
        if (certFile || keyFile || caFile) {
          if (!certFile || !keyFile || !caFile) throw new Error("--mtls-cert-file, --mtls-key-file and --mtls-ca-file go together");
          tls = loadGivenCerts({ certFile, keyFile, caFile });
        } else {
          // Per user, not per --data-dir: every sidecar this user starts on this host trusts the same CA.
          const caDir = str(x["mtls-ca-dir"]) ?? join(homedir(), ".rapr", "ca");
          const ca = await loadOrCreateCa(caDir).catch((err: Error) => {
            throw new Error(`mTLS: cannot load or create the local CA in ${caDir} (choose another with --mtls-ca-dir, give certificates with --mtls-cert-file/--mtls-key-file/--mtls-ca-file, or turn mTLS off with --enable-mtls=false): ${err.message}`);
          });
          tls = await issueLeaf(ca, { trustDomain, namespace, appId: c.appId });
        }
      }
      // Frames carry responses too, which --dapr-http-max-request-size does not limit: allow at least 64 MiB.
      const maxMessageBytes = Math.max(64 * 1024 * 1024, c.maxRequestBodyBytes + 64 * 1024);
      const kernel = () => new MtlsTransport({ host: c.listenAddress, port: c.internalGrpcPort, tls, maxMessageBytes });
      transport = await createDataplane(dataplaneFlags(x), { kernel, log: (line) => log.info(line) });
      // Only the mTLS path carries verified identities; on DPDK, access control has no caller to check.
      const verified = mtls && transport.name !== "dpdk";
      if (!verified) {
        const why = mtls ? "the DPDK data plane has no TLS" : "mTLS is off (--enable-mtls=false)";
        log.warn(`${why}: sidecar-to-sidecar calls are neither encrypted nor authenticated; callers' app ids cannot be verified, so access control treats every caller as unknown (its defaultAction applies) and dapr-caller-app-id is only what the caller claims`);
      }

      resolver = await pickResolver(rt, conf.nameResolution);
      const httpEndpoints = new Map<string, HttpEndpoint>();
      for (const spec of parseHttpEndpoints(rt.resources, c.appId)) {
        httpEndpoints.set(spec.name, await readyEndpoint(spec, (items, store, fail) => rt.registry.resolveItems(items, store, fail)));
      }
      const resiliency = rt.resiliency;
      const block = new InvokeBlock({
        appId: c.appId,
        namespace,
        trustDomain,
        mtls: verified,
        appChannel: rt.appChannel,
        resolver,
        transport,
        resiliency,
        accessControl: conf.accessControl,
        logger: log,
        maxBodyBytes: c.maxRequestBodyBytes,
        httpEndpoints,
      });
      const address = await transport.listen((req) => block.serve(req), (open, peer) => block.serveStream(open, peer));
      await resolver.register({ appId: c.appId, namespace, address, pid: process.pid });
      rt.api.invoke = block;
      rt.api.metadata.contribute((snap) => snap.httpEndpoints.push(...[...httpEndpoints.keys()].map((name) => ({ name }))));
      log.info("service invocation ready", { address, ...(httpEndpoints.size ? { http_endpoints: [...httpEndpoints.keys()].join(",") } : {}), transport: transport.name, namespace, access_control: !!conf.accessControl, resiliency: !resiliency.empty });
    },
    async stop() {
      await resolver?.unregister?.().catch(() => {});
      await transport?.close();
    },
  };
}

/** A nameresolution component from --resources-path, else Configuration spec.nameResolution, else the local registry. */
async function pickResolver(rt: Runtime, fromConfig: { component: string; configuration: Record<string, string> } | undefined): Promise<NameResolver> {
  const loaded = rt.registry.list("nameresolution")[0];
  if (loaded) return loaded.instance as NameResolver;
  const type = fromConfig ? `nameresolution.${fromConfig.component.replace(/^nameresolution\./, "")}` : "nameresolution.local";
  const spec: ComponentSpec = {
    name: "nameresolution",
    type,
    version: "v1",
    metadata: Object.entries(fromConfig?.configuration ?? {}).map(([name, value]) => ({ name, value })),
    ignoreErrors: false,
    scopes: [],
    source: fromConfig ? `${rt.config.configPath} spec.nameResolution` : "default name resolution",
  };
  await rt.registry.load(spec);
  return rt.registry.get<NameResolver>("nameresolution", "nameresolution")!;
}
