// Non-Dapr endpoints: an HTTPEndpoint resource names a base URL (plus headers and client TLS) that invocation
// reaches by the resource's name; an id that is itself an http(s) URL is called directly. Precedence, as in
// Dapr: an HTTPEndpoint name, then a URL, then an app id.
import type { MetadataItem } from "../../components/component.js";
import { parseMetadataItems, ResourceError, type RawResource } from "../../components/loader.js";

export interface HttpEndpointSpec {
  name: string;
  baseUrl: string;
  headers: MetadataItem[];
  /** rootCA, certificate, privateKey: each a value or a secretKeyRef. */
  clientTls: MetadataItem[];
  secretStore?: string;
  source: string;
}

/** An endpoint ready to call: headers and TLS material with secrets resolved. */
export interface HttpEndpoint {
  name: string;
  baseUrl: string;
  headers: [string, string][];
  tls?: { ca?: string; cert?: string; key?: string };
}

const TLS_FIELDS = { rootCA: "ca", certificate: "cert", privateKey: "key" } as const;

export function isUrlTarget(id: string): boolean {
  return /^https?:\/\//i.test(id);
}

/** The HTTPEndpoint resources that apply to this app (unscoped, or scoped to it). */
export function parseHttpEndpoints(resources: readonly RawResource[], appId: string): HttpEndpointSpec[] {
  const out = new Map<string, HttpEndpointSpec>();
  for (const r of resources) {
    if (r.kind !== "HTTPEndpoint" || (r.scopes.length > 0 && !r.scopes.includes(appId))) continue;
    const where = `HTTPEndpoint "${r.name}"`;
    if (out.has(r.name)) throw new ResourceError(r.source, `${where} is defined twice (also in ${out.get(r.name)!.source})`);
    const spec = (r.body.spec ?? {}) as Record<string, unknown>;
    const baseUrl = spec.baseUrl;
    if (typeof baseUrl !== "string" || !isUrlTarget(baseUrl)) {
      throw new ResourceError(r.source, `${where}: spec.baseUrl must be an http:// or https:// URL, not ${JSON.stringify(baseUrl ?? null)}`);
    }
    try {
      new URL(baseUrl);
    } catch {
      throw new ResourceError(r.source, `${where}: spec.baseUrl ${JSON.stringify(baseUrl)} is not a valid URL`);
    }
    const tlsRaw = spec.clientTLS ?? spec.clientTls;
    if (tlsRaw !== undefined && (typeof tlsRaw !== "object" || tlsRaw === null || Array.isArray(tlsRaw))) {
      throw new ResourceError(r.source, `${where}: spec.clientTLS must be a map of rootCA, certificate and privateKey`);
    }
    // Dapr's clientTLS.renegotiation has no equivalent in Bun's TLS client (it never renegotiates): accepted, unused.
    const tlsItems = Object.entries((tlsRaw ?? {}) as Record<string, unknown>)
      .filter(([name]) => name !== "renegotiation")
      .map(([name, v]) => {
        if (!Object.hasOwn(TLS_FIELDS, name)) throw new ResourceError(r.source, `${where}: spec.clientTLS.${name} is not one of rootCA, certificate, privateKey, renegotiation`);
        return { name, ...(typeof v === "object" && v !== null ? v : { value: v }) };
      });
    const auth = r.body.auth as { secretStore?: unknown } | undefined;
    out.set(r.name, {
      name: r.name,
      baseUrl: baseUrl.replace(/\/+$/, ""),
      headers: parseMetadataItems(spec.headers, r.source, where, "spec.headers"),
      clientTls: parseMetadataItems(tlsItems, r.source, where, "spec.clientTLS"),
      secretStore: typeof auth?.secretStore === "string" ? auth.secretStore : undefined,
      source: r.source,
    });
  }
  return [...out.values()];
}

/** Resolves an endpoint's secrets with `resolve` (the component registry's secretKeyRef reader). */
export async function readyEndpoint(
  spec: HttpEndpointSpec,
  resolve: (items: MetadataItem[], secretStore: string | undefined, fail: (message: string) => Error) => Promise<Record<string, string>>,
): Promise<HttpEndpoint> {
  const fail = (what: string) => (message: string) => new ResourceError(spec.source, `HTTPEndpoint "${spec.name}": ${what} ${message}`);
  const headers = await resolve(spec.headers, spec.secretStore, fail("header"));
  const tls = await resolve(spec.clientTls, spec.secretStore, fail("spec.clientTLS"));
  const endpoint: HttpEndpoint = { name: spec.name, baseUrl: spec.baseUrl, headers: spec.headers.map((h) => [h.name, headers[h.name]!]) };
  if (spec.clientTls.length) {
    endpoint.tls = {};
    for (const [field, option] of Object.entries(TLS_FIELDS)) if (tls[field] !== undefined) endpoint.tls[option] = tls[field];
  }
  return endpoint;
}

/** The URL one call goes to: base URL, method path, query. */
export function endpointUrl(baseUrl: string, method: string, query: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${method.replace(/^\/+/, "")}${query ? `?${query}` : ""}`;
}
