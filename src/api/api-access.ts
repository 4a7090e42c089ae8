// Configuration spec.api: which Dapr API groups a sidecar serves, per protocol (daprd's API allowlist / denylist).
// No rule for a protocol: everything is served; allowed rules: only those; denied rules win over allowed ones.

export type ApiProtocol = "http" | "grpc";

export interface ApiAccessRule {
  name: string;
  version: string;
  /** Absent in the file: http, as daprd reads it. */
  protocol: ApiProtocol;
}

export interface ApiAccessRules {
  allowed: ApiAccessRule[];
  denied: ApiAccessRule[];
}

/** spec.api of a Configuration (undefined: no section). `source` names the file in errors. */
export function parseApiAccess(api: unknown, source: string): ApiAccessRules | undefined {
  if (api === undefined || api === null) return undefined;
  if (typeof api !== "object" || Array.isArray(api)) throw new Error(`${source}: spec.api must be an object with allowed and/or denied lists`);
  const { allowed, denied } = api as { allowed?: unknown; denied?: unknown };
  return { allowed: rules(allowed, `${source}: spec.api.allowed`), denied: rules(denied, `${source}: spec.api.denied`) };
}

function rules(list: unknown, where: string): ApiAccessRule[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error(`${where} must be a list of {name, version, protocol}`);
  return list.map((r, i) => {
    const at = `${where}[${i}]`;
    if (!r || typeof r !== "object") throw new Error(`${at} must be an object {name, version, protocol}`);
    const { name, version, protocol = "http" } = r as Record<string, unknown>;
    if (typeof name !== "string" || !name) throw new Error(`${at}.name must be an API name such as state, invoke, publish`);
    if (typeof version !== "string" || !version) throw new Error(`${at}.version must be a version such as v1.0 (HTTP) or v1 (gRPC)`);
    const p = typeof protocol === "string" ? protocol.toLowerCase() : protocol;
    if (p !== "http" && p !== "grpc") throw new Error(`${at}.protocol must be http or grpc, got ${JSON.stringify(protocol)}`);
    return { name, version, protocol: p };
  });
}

/** Whether an API group at a version is served over a protocol. */
export function apiServed(rules: ApiAccessRules | undefined, protocol: ApiProtocol, group: string, version: string): boolean {
  if (!rules) return true;
  const matches = (r: ApiAccessRule) => r.protocol === protocol && r.name === group && r.version === version;
  const allowList = rules.allowed.filter((r) => r.protocol === protocol);
  if (allowList.length && !allowList.some(matches)) return false;
  return !rules.denied.some(matches);
}
