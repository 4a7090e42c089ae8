// SPIFFE-like workload identities: spiffe://<trust-domain>/ns/<namespace>/<appId>, one per app id.

export interface Identity {
  trustDomain: string;
  namespace: string;
  appId: string;
}

export function spiffeId(id: Identity): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/${id.appId}`;
}

export function parseSpiffeId(uri: string): Identity | undefined {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/([^/]+)$/.exec(uri.trim());
  if (!m) return undefined;
  return { trustDomain: m[1]!, namespace: m[2]!, appId: m[3]! };
}

/** Picks the spiffe:// URI out of Node/Bun's `subjectaltname` string ("URI:spiffe://…, DNS:localhost"). */
export function spiffeFromSubjectAltName(san: string | undefined): Identity | undefined {
  if (!san) return undefined;
  for (const part of san.split(",")) {
    const p = part.trim();
    if (p.startsWith("URI:spiffe://")) return parseSpiffeId(p.slice(4));
  }
  return undefined;
}
