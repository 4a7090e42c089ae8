// nameresolution.static: a fixed map from app id to transport address(es), from component metadata.
// metadata "apps": "orders=mtls://127.0.0.1:7001;cart=mtls://10.0.0.2:7001,mtls://10.0.0.3:7001"
// Keys may be "appId" or "appId.namespace".
import { definePlugin } from "../../src/components/plugin.js";
import { field, MetadataError } from "../../src/components/metadata-schema.js";
import { DEFAULT_NAMESPACE, type NameResolver } from "../../src/components/contracts/nameresolution.js";

export function parseStaticMap(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const entry of text.split(/[;\n]/).map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new MetadataError("apps", `metadata field "apps": entry "${entry}" is not appId=address[,address]`);
    const addresses = entry.slice(eq + 1).split(",").map((s) => s.trim()).filter(Boolean);
    if (!addresses.length) throw new MetadataError("apps", `metadata field "apps": entry "${entry}" has no address`);
    out.set(entry.slice(0, eq).trim(), addresses);
  }
  return out;
}

export class StaticResolver implements NameResolver {
  constructor(private readonly map: Map<string, string[]>) {}
  async resolve(appId: string, namespace = DEFAULT_NAMESPACE): Promise<string[]> {
    return this.map.get(`${appId}.${namespace}`) ?? (namespace === DEFAULT_NAMESPACE ? this.map.get(appId) : undefined) ?? [];
  }
  async register(): Promise<void> {}
  async close(): Promise<void> {}
}

export default definePlugin({
  type: "nameresolution.static",
  metadata: { apps: field.string({ required: true }) },
  async create(md) {
    return new StaticResolver(parseStaticMap(md.apps));
  },
});
