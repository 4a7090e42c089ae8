// The service invocation block: /v1.0/invoke/* (and any path with dapr-app-id), InvokeService, and its module:
// certificates, the sidecar transport, name resolution, resiliency and access control.
import { homedir } from "node:os";
import { join } from "node:path";
import type { ComponentSpec } from "../../components/component.js";
import type { NameResolver } from "../../components/contracts/nameresolution.js";
import { issueLeaf, loadGivenCerts, loadOrCreateCa, type TlsMaterial } from "../../security/ca.js";
import { readInvocationConfiguration } from "../../security/configuration.js";
import { createDataplane } from "../../transport/dataplane.js";
import { MtlsTransport } from "../../transport/mtls/index.js";
import type { Transport } from "../../transport/transport.js";
import { defineBlock, type BlockHost, type BlockInstance } from "../../runtime/block.js";
import { invokeEndpoints } from "../../api/http/routes/invoke.js";
import { invokeHandlers } from "../../api/grpc/handlers/invoke.js";
import { daprService } from "../../api/grpc/dapr-service.js";
import { InvokeBlock, invokeSlot } from "./invoke-block.js";
import { peerLinkSlot } from "./peer-link.js";
import { invokeOptions, invokeRunFlags, type InvokeOptions } from "./flags.js";
import { parseHttpEndpoints, readyEndpoint, type HttpEndpoint } from "./http-endpoints.js";

export const invokeManifest = defineBlock<InvokeOptions>({
  name: "invoke",
  flags: invokeRunFlags,
  parseOptions: invokeOptions,
  http: invokeEndpoints,
  grpc: (api) => [daprService(invokeHandlers(api), "invoke")],
  create: invokeModule,
});

function invokeModule(host: BlockHost, options: InvokeOptions): BlockInstance {
  let transport: Transport | undefined;
  let resolver: NameResolver | undefined;
  return {
    async start() {
      const c = host.config;
      const { namespace, trustDomain, mtls } = options;
      const conf = readInvocationConfiguration(c.configPath);
      const log = host.logger.child("invoke");

      let tls: TlsMaterial | undefined;
      if (mtls) {
        if (options.certFiles) {
          tls = loadGivenCerts(options.certFiles);
        } else {
          // Per user, not per --data-dir: every sidecar this user starts on this host trusts the same CA.
          const caDir = options.caDir ?? join(homedir(), ".rapr", "ca");
          const ca = await loadOrCreateCa(caDir).catch((err: Error) => {
            throw new Error(`mTLS: cannot load or create the local CA in ${caDir} (choose another with --mtls-ca-dir, give certificates with --mtls-cert-file/--mtls-key-file/--mtls-ca-file, or turn mTLS off with --enable-mtls=false): ${err.message}`);
          });
          tls = await issueLeaf(ca, { trustDomain, namespace, appId: c.appId });
        }
      }
      // Frames carry responses too, which --dapr-http-max-request-size does not limit: allow at least 64 MiB.
      const maxMessageBytes = Math.max(64 * 1024 * 1024, c.maxRequestBodyBytes + 64 * 1024);
      const kernel = () => new MtlsTransport({ host: c.listenAddress, port: c.internalGrpcPort, tls, maxMessageBytes });
      transport = await createDataplane(options.dataplane, { kernel, log: (line) => log.info(line) });
      // Only the mTLS path carries verified identities; on DPDK, access control has no caller to check.
      const verified = mtls && transport.name !== "dpdk";
      if (!verified) {
        const why = mtls ? "the DPDK data plane has no TLS" : "mTLS is off (--enable-mtls=false)";
        log.warn(`${why}: sidecar-to-sidecar calls are neither encrypted nor authenticated; callers' app ids cannot be verified, so access control treats every caller as unknown (its defaultAction applies) and dapr-caller-app-id is only what the caller claims`);
      }

      resolver = await pickResolver(host, conf.nameResolution);
      const httpEndpoints = new Map<string, HttpEndpoint>();
      for (const spec of parseHttpEndpoints(host.resources, c.appId)) {
        httpEndpoints.set(spec.name, await readyEndpoint(spec, (items, store, fail) => host.registry.resolveItems(items, store, fail)));
      }
      const resiliency = host.resiliency;
      const block = new InvokeBlock({
        appId: c.appId,
        namespace,
        trustDomain,
        mtls: verified,
        appChannel: host.appChannel,
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
      host.provide(invokeSlot, block);
      const link = transport;
      host.provide(peerLinkSlot, { address, namespace, request: (to, req, signal) => link.request(to, req, { signal }), handle: (kind, handler) => block.handle(kind, handler) });
      host.metadata.contribute((snap) => snap.httpEndpoints.push(...[...httpEndpoints.keys()].map((name) => ({ name }))));
      log.info("service invocation ready", { address, ...(httpEndpoints.size ? { http_endpoints: [...httpEndpoints.keys()].join(",") } : {}), transport: transport.name, namespace, access_control: !!conf.accessControl, resiliency: !resiliency.empty });
    },
    async stop() {
      host.provide(peerLinkSlot, undefined);
      await resolver?.unregister?.().catch(() => {});
      await transport?.close();
    },
  };
}

/** A nameresolution component from --resources-path, else Configuration spec.nameResolution, else the local registry. */
async function pickResolver(host: BlockHost, fromConfig: { component: string; configuration: Record<string, string> } | undefined): Promise<NameResolver> {
  const loaded = host.registry.list("nameresolution")[0];
  if (loaded) return loaded.instance as NameResolver;
  const type = fromConfig ? `nameresolution.${fromConfig.component.replace(/^nameresolution\./, "")}` : "nameresolution.local";
  const spec: ComponentSpec = {
    name: "nameresolution",
    type,
    version: "v1",
    metadata: Object.entries(fromConfig?.configuration ?? {}).map(([name, value]) => ({ name, value })),
    ignoreErrors: false,
    scopes: [],
    source: fromConfig ? `${host.config.configPath} spec.nameResolution` : "default name resolution",
  };
  await host.registry.load(spec);
  return host.registry.get<NameResolver>("nameresolution", "nameresolution")!;
}
