// Membership-based name resolution: a sidecar's invocation address travels in its member metadata, so
// service invocation finds an app on any node of the cluster by its app id.
import type { NameResolver, SelfRegistration } from "../components/contracts/nameresolution.js";
import { DEFAULT_NAMESPACE } from "../components/contracts/nameresolution.js";
import type { ClusterNode } from "./index.js";

export const META_APP_ID = "appId";
export const META_NAMESPACE = "namespace";
export const META_INVOKE_ADDRESS = "invokeAddress";

export class ClusterResolver implements NameResolver {
  constructor(
    private readonly node: ClusterNode,
    private readonly fallback?: NameResolver,
  ) {}

  async register(self: SelfRegistration): Promise<void> {
    const own = this.node.member(this.node.id);
    this.node.setMetadata({
      ...own?.metadata,
      [META_APP_ID]: self.appId,
      [META_NAMESPACE]: self.namespace,
      [META_INVOKE_ADDRESS]: self.address,
    });
    await this.fallback?.register(self);
  }

  async resolve(appId: string, namespace = DEFAULT_NAMESPACE): Promise<string[]> {
    const found: string[] = [];
    for (const m of this.node.members()) {
      if (m.state !== "alive" && m.state !== "suspect") continue;
      if (m.metadata[META_APP_ID] !== appId || (m.metadata[META_NAMESPACE] ?? DEFAULT_NAMESPACE) !== namespace) continue;
      const addr = m.metadata[META_INVOKE_ADDRESS];
      // alive before suspect; our own sidecar first
      if (addr) (m.id === this.node.id || m.state === "alive" ? found.unshift(addr) : found.push(addr));
    }
    if (found.length > 0) return [...new Set(found)];
    return (await this.fallback?.resolve(appId, namespace)) ?? [];
  }

  async close(): Promise<void> {
    await this.fallback?.close();
  }
}
