// Routing rules and outside subscribers' filters: CEL expressions over the CloudEvent (`event.type == "order"`),
// compiled once, bounded and evaluated within a budget by bounded-cel.ts.
import type { Logger } from "../../observability/logger.js";
import { compileBoundedCel } from "./bounded-cel.js";
import type { CloudEvent } from "./cloudevents.js";
import type { RouteRule, SubscriptionSpec } from "./subscriptions.js";

/** The event as CEL sees it (celEvent), converted once and shared by every expression that looks at it. */
declare const celEventBrand: unique symbol;
export type CelEvent = { readonly [celEventBrand]: true };

export interface EventFilter {
  /** The static cost estimate (bounded-cel.ts). */
  readonly cost: number;
  /** Whether the event matches, spending at most `budget` units (default: the limit of one evaluation). */
  test(event: CelEvent, budget?: number): { match: boolean; spent: number };
}

/** Told the expression whose evaluation ran out of budget (the event was taken as not matching). */
export type OverBudget = (expression: string) => void;

/**
 * Compiles a CEL expression into a filter over `event`; throws a 400 ERR_MALFORMED_REQUEST on a syntax error or
 * a broken bound. An error while evaluating, or a spent budget, is "no match".
 */
export function compileFilter(expr: string, overBudget: OverBudget): EventFilter {
  const program = compileBoundedCel(expr);
  return {
    cost: program.cost,
    test(event, budget) {
      try {
        const r = program.eval({ event }, budget);
        if (!r.ok) overBudget(expr);
        return { match: r.ok && r.value === true, spent: r.spent };
      } catch {
        return { match: false, spent: 0 };
      }
    },
  };
}

export function celEvent(ce: CloudEvent): CelEvent {
  try {
    return toCel(ce) as CelEvent;
  } catch {
    return {} as unknown as CelEvent; // nested too deep to convert: no field matches
  }
}

/** JSON numbers that are integers become CEL ints so `event.data.count == 3` works as written. */
function toCel(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {}; // the CEL library reads plain objects only (no null prototype)
    for (const [k, x] of Object.entries(v)) {
      if (k === "__proto__") Object.defineProperty(out, k, { value: toCel(x), enumerable: true, writable: true, configurable: true });
      else out[k] = toCel(x);
    }
    return out;
  }
  return v;
}

/** Logs "over budget" at most once per interval per logger, with how many were not logged since. */
export function overBudgetWarner(logger: Logger, fields: Record<string, unknown>, intervalMs = 10_000): OverBudget {
  let last = -Infinity;
  let unlogged = 0;
  return (expression) => {
    const now = performance.now();
    if (now - last < intervalMs) return void unlogged++;
    logger.warn("CEL evaluation over its budget; the event is taken as not matching", { ...fields, expression, not_logged_since: unlogged });
    last = now;
    unlogged = 0;
  };
}

export interface Router {
  /** The app path for an event, or undefined when no rule matches and there is no default (the event is dropped). */
  route(event: CloudEvent): string | undefined;
}

export function compileRouter(spec: SubscriptionSpec, overBudget: OverBudget): Router {
  const rules = spec.rules.map((r: RouteRule) => ({ path: r.path, filter: compileFilter(r.match, overBudget) }));
  return {
    route(ce) {
      if (!rules.length) return spec.defaultPath;
      const event = celEvent(ce);
      for (const r of rules) if (r.filter.test(event).match) return r.path;
      return spec.defaultPath;
    },
  };
}
