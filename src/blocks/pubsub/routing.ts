// Routing rules: CEL expressions over the CloudEvent (`event.type == "order"`), compiled once per subscription.
import { celEnv, parse, plan } from "@bufbuild/cel";
import type { CloudEvent } from "./cloudevents.js";
import type { RouteRule, SubscriptionSpec } from "./subscriptions.js";

export type EventPredicate = (event: CloudEvent) => boolean;

const env = celEnv();

/** Compiles a CEL expression into a predicate over `event`; throws with the expression on a syntax error. */
export function compileFilter(expr: string): EventPredicate {
  let program: (ctx: Record<string, unknown>) => unknown;
  try {
    program = plan(env, parse(expr)) as (ctx: Record<string, unknown>) => unknown;
  } catch (err) {
    throw new Error(`invalid CEL expression ${JSON.stringify(expr)}: ${(err as Error).message}`);
  }
  return (event) => {
    try {
      return program({ event: toCel(event) }) === true;
    } catch {
      return false;
    }
  };
}

/** JSON numbers that are integers become CEL ints so `event.data.count == 3` works as written. */
function toCel(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toCel(x);
    return out;
  }
  return v;
}

export interface Router {
  /** The app path for an event, or undefined when no rule matches and there is no default (the event is dropped). */
  route(event: CloudEvent): string | undefined;
}

export function compileRouter(spec: SubscriptionSpec): Router {
  const rules = spec.rules.map((r: RouteRule) => ({ path: r.path, test: compileFilter(r.match) }));
  return {
    route(event) {
      for (const r of rules) if (r.test(event)) return r.path;
      return spec.defaultPath;
    },
  };
}
