// Subscriptions from the three places Dapr takes them: the app's GET /dapr/subscribe (v1 and v2 shapes) or
// gRPC ListTopicSubscriptions, Subscription YAML (dapr.io/v1alpha1 and v2alpha1, with scopes), and streams.
import type { RawResource } from "../../components/loader.js";

export interface RouteRule {
  match: string;
  path: string;
}

export interface BulkSubscribe {
  enabled: boolean;
  maxMessagesCount: number;
  maxAwaitDurationMs: number;
}

export interface SubscriptionSpec {
  pubsubName: string;
  topic: string;
  rules: RouteRule[];
  defaultPath?: string;
  deadLetterTopic?: string;
  metadata: Record<string, string>;
  bulk?: BulkSubscribe;
  kind: "programmatic" | "declarative" | "streaming";
  /** Source file of a declarative subscription. */
  source?: string;
}

export class SubscriptionError extends Error {}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) out[k] = typeof x === "string" ? x : String(x);
  return out;
}

/** Route paths are kept without a leading slash, the way the app channel takes them. */
export function normalizePath(p: string): string {
  return p.replace(/^\/+/, "");
}

function parseBulk(v: unknown): BulkSubscribe | undefined {
  if (!v || typeof v !== "object") return undefined;
  const o = v as Record<string, unknown>;
  if (!o.enabled) return undefined;
  return {
    enabled: true,
    maxMessagesCount: Number(o.maxMessagesCount ?? o.max_messages_count ?? 100) || 100,
    maxAwaitDurationMs: Number(o.maxAwaitDurationMs ?? o.max_await_duration_ms ?? 1000) || 1000,
  };
}

/** One entry of the app's GET /dapr/subscribe answer or of a Subscription's spec (v1: route; v2: routes). */
export function parseSubscriptionBody(o: Record<string, unknown>, kind: SubscriptionSpec["kind"], where: string): SubscriptionSpec {
  const pubsubName = str(o.pubsubname) ?? str(o.pubsubName) ?? str(o.pubsub_name);
  const topic = str(o.topic);
  if (!pubsubName) throw new SubscriptionError(`${where}: "pubsubname" is required`);
  if (!topic) throw new SubscriptionError(`${where}: "topic" is required`);
  const rules: RouteRule[] = [];
  let defaultPath: string | undefined;
  const routes = o.routes as Record<string, unknown> | undefined;
  if (routes && typeof routes === "object") {
    for (const [i, r] of ((routes.rules as unknown[]) ?? []).entries()) {
      const rule = r as Record<string, unknown>;
      if (typeof rule?.match !== "string" || typeof rule?.path !== "string") throw new SubscriptionError(`${where}: routes.rules[${i}] needs "match" and "path" strings`);
      if (rule.match.trim() === "") defaultPath ??= normalizePath(rule.path);
      else rules.push({ match: rule.match, path: normalizePath(rule.path) });
    }
    if (typeof routes.default === "string" && routes.default) defaultPath = normalizePath(routes.default);
  }
  if (typeof o.route === "string" && o.route) defaultPath ??= normalizePath(o.route);
  if (!rules.length && defaultPath === undefined) defaultPath = normalizePath(topic);
  return {
    pubsubName,
    topic,
    rules,
    defaultPath,
    deadLetterTopic: (str(o.deadLetterTopic) ?? str(o.dead_letter_topic)) || undefined,
    metadata: stringMap(o.metadata),
    bulk: parseBulk(o.bulkSubscribe ?? o.bulk_subscribe),
    kind,
  };
}

export function parseProgrammatic(body: unknown): SubscriptionSpec[] {
  if (body === null || body === undefined) return [];
  if (!Array.isArray(body)) throw new SubscriptionError("GET /dapr/subscribe must answer a JSON array");
  return body.map((o, i) => parseSubscriptionBody(o as Record<string, unknown>, "programmatic", `GET /dapr/subscribe [${i}]`));
}

/** Subscription resources that apply to this app (no scopes, or the app id among them). */
export function parseDeclarative(resources: readonly RawResource[], appId: string): SubscriptionSpec[] {
  const out: SubscriptionSpec[] = [];
  for (const r of resources) {
    if (r.kind !== "Subscription") continue;
    if (r.scopes.length && !r.scopes.includes(appId)) continue;
    const spec = (r.body.spec ?? {}) as Record<string, unknown>;
    const s = parseSubscriptionBody(spec, "declarative", `${r.source}: Subscription "${r.name}"`);
    s.source = r.source;
    out.push(s);
  }
  return out;
}
