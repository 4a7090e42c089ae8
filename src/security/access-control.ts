// Dapr's Configuration spec.accessControl, enforced by the RECEIVING sidecar: which caller apps (identified by
// trust domain, namespace and app id — from the mTLS certificate when mTLS is on) may call which operations
// (paths, with * for one segment and ** for the rest; a plain path also covers everything below it) with
// which HTTP verbs. Operations are matched in the form normalizeOperation gives them (rule names too), without
// regard to case when the app speaks HTTP, as daprd does.
import { InvalidOperationError, normalizeOperation } from "./operation.js";

export type Action = "allow" | "deny";

export interface OperationRule {
  name: string;
  pattern: RegExp;
  /** The same pattern without regard to case (HTTP apps). */
  patternIgnoringCase: RegExp;
  /** Specificity: longer patterns win. */
  weight: number;
  verbs: Set<string>;
  action: Action;
}

export interface AppPolicy {
  appId: string;
  trustDomain: string;
  namespace: string;
  defaultAction: Action;
  operations: OperationRule[];
}

export interface AccessControlSpec {
  defaultAction: Action;
  trustDomain: string;
  policies: AppPolicy[];
}

export interface Caller {
  appId: string;
  namespace: string;
  trustDomain: string;
}

export interface Decision {
  allowed: boolean;
  reason: string;
}

export class AccessControlConfigError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === "object" && !Array.isArray(v);

function action(v: unknown, where: string, dflt: Action): Action {
  if (v === undefined || v === null || v === "") return dflt;
  const s = String(v).toLowerCase();
  if (s !== "allow" && s !== "deny") throw new AccessControlConfigError(`${where} must be "allow" or "deny", got ${JSON.stringify(v)}`);
  return s;
}

export function parseAccessControl(raw: unknown, source: string): AccessControlSpec | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isObj(raw)) throw new AccessControlConfigError(`${source}: spec.accessControl must be a mapping`);
  const defaultAction = action(raw.defaultAction, `${source}: spec.accessControl.defaultAction`, "allow");
  const trustDomain = String(raw.trustDomain ?? "public");
  const list = raw.policies ?? [];
  if (!Array.isArray(list)) throw new AccessControlConfigError(`${source}: spec.accessControl.policies must be a list`);
  const policies = list.map((p, i): AppPolicy => {
    const where = `${source}: spec.accessControl.policies[${i}]`;
    if (!isObj(p) || typeof p.appId !== "string" || !p.appId) throw new AccessControlConfigError(`${where}.appId is required`);
    const ops = p.operations ?? [];
    if (!Array.isArray(ops)) throw new AccessControlConfigError(`${where}.operations must be a list`);
    return {
      appId: p.appId,
      trustDomain: String(p.trustDomain ?? "public"),
      namespace: String(p.namespace ?? "default"),
      defaultAction: action(p.defaultAction, `${where}.defaultAction`, defaultAction),
      operations: ops.map((o, j) => {
        const w = `${where}.operations[${j}]`;
        if (!isObj(o) || typeof o.name !== "string" || !o.name) throw new AccessControlConfigError(`${w}.name is required`);
        const verbs = Array.isArray(o.httpVerb) ? o.httpVerb.map((v) => String(v).toUpperCase()) : ["*"];
        const name = `/${ruleOperation(o.name, `${w}.name`)}`;
        return {
          name,
          pattern: compileOperation(name),
          patternIgnoringCase: compileOperation(name, "i"),
          weight: name.replace(/\*/g, "").length,
          verbs: new Set(verbs),
          action: action(o.action, `${w}.action`, "allow"),
        };
      }),
    };
  });
  return { defaultAction, trustDomain, policies };
}

function ruleOperation(name: string, where: string): string {
  try {
    return normalizeOperation(name);
  } catch (err) {
    if (err instanceof InvalidOperationError) throw new AccessControlConfigError(`${where}: ${err.message}`);
    throw err;
  }
}

export function compileOperation(name: string, flags = ""): RegExp {
  const escaped = name.split("/").map((seg) => {
    if (seg === "**") return "\u0000";
    return seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*");
  }).join("/");
  const body = escaped.replace(/\/\u0000/g, "(?:/.*)?").replace(/\u0000/g, ".*");
  const hasWildcard = name.includes("*");
  return new RegExp(`^${body}${hasWildcard ? "" : "(?:/.*)?"}$`, flags);
}

/** Decides whether caller may call `operation` (the method path as normalizeOperation gives it) with `verb` ("" for
 * gRPC); `ignoreCase` for an HTTP app. */
export function decide(spec: AccessControlSpec | undefined, caller: Caller | undefined, operation: string, verb: string, ignoreCase = false): Decision {
  if (!spec) return { allowed: true, reason: "no access control configured" };
  const op = operation.startsWith("/") ? operation : `/${operation}`;
  const policy = caller && spec.policies.find((p) => p.appId === caller.appId && p.namespace === caller.namespace && p.trustDomain === caller.trustDomain);
  if (!policy) {
    const who = caller ? `${caller.appId} (ns ${caller.namespace}, trust domain ${caller.trustDomain})` : "an unidentified caller";
    return { allowed: spec.defaultAction === "allow", reason: `no policy for ${who}; defaultAction ${spec.defaultAction}` };
  }
  const v = verb.toUpperCase();
  let best: OperationRule | undefined;
  for (const rule of policy.operations) {
    if (!(ignoreCase ? rule.patternIgnoringCase : rule.pattern).test(op)) continue;
    if (v && !rule.verbs.has("*") && !rule.verbs.has(v)) continue;
    if (!best || rule.weight > best.weight) best = rule;
  }
  if (best) return { allowed: best.action === "allow", reason: `policy for ${policy.appId}: operation ${best.name} ${[...best.verbs].join(",")} → ${best.action}` };
  return { allowed: policy.defaultAction === "allow", reason: `policy for ${policy.appId}: no operation matches ${v} ${op}; defaultAction ${policy.defaultAction}` };
}
