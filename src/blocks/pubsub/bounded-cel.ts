// Every CEL expression the sidecar evaluates (routing rules `match:`, outside subscribers' `filter`) goes through
// here: bounded in size, refused when its estimated cost is over the limit, and evaluated with a budget.
//
// One cost model, after cel-go's (checker/cost.go for the estimate, interpreter/runtimecost.go for the budget): a
// unit is about one step of evaluation; a comprehension (`all`, `exists`, `exists_one`, `map`, `filter`) costs
// its range, its start and result, plus the size of its range times the cost of one iteration. Sizes are exact for
// literals and assumed (CEL_LIMITS.assumedSize) for whatever comes from the event. At run time each iteration of
// every comprehension spends its own (flat) cost from the evaluation's budget; once the budget or the time is spent
// every loop stops at its next iteration and the evaluation is over budget. Everything outside loops is bounded by
// the expression's size.
import { CelScalar, celEnv, celFunc, parse, plan } from "@bufbuild/cel";
import { DaprError, errors } from "../../errors.js";

export const CEL_LIMITS = {
  /** Characters in one expression. */
  maxChars: 1024,
  /** Cost units: the static estimate must stay under it, and so must each evaluation. */
  maxCost: 100_000,
  /** Size assumed for a list, map or string taken from the event (elements, entries, characters). */
  assumedSize: 100,
  /** Wall time one evaluation may take, whatever its cost says (a value much larger than assumed). */
  maxEvalMs: 50,
} as const;

type Expr = ReturnType<typeof parse>["expr"];
type Kind<C extends string> = Extract<Expr["exprKind"], { case: C }>["value"];

/** What an evaluation gave: the value, or "over budget" (then nothing else about it can be trusted); spent: units. */
export type BoundedResult = { ok: true; value: unknown; spent: number } | { ok: false; spent: number };

export interface BoundedCel {
  readonly expression: string;
  /** The static estimate, in cost units. */
  readonly cost: number;
  eval(vars: Record<string, unknown>): BoundedResult;
}

/** Compiles a CEL expression within CEL_LIMITS; throws a 400 ERR_MALFORMED_REQUEST saying which bound it broke. */
export function compileBoundedCel(expression: string): BoundedCel {
  // The reason comes first: a WebSocket close reason keeps only about 120 bytes.
  const quoted = JSON.stringify(expression.length > 80 ? `${expression.slice(0, 80)}…` : expression);
  if (expression.length > CEL_LIMITS.maxChars) {
    throw errors.malformedRequest(`CEL expression too long: ${expression.length} characters, the limit is ${CEL_LIMITS.maxChars}: ${quoted}`);
  }
  let program: (vars: Record<string, unknown>) => unknown;
  let cost: number;
  try {
    const parsed = parse(expression);
    cost = Math.ceil(estimate(parsed.expr, new Map()).cost);
    if (cost > CEL_LIMITS.maxCost) {
      throw errors.malformedRequest(`CEL expression too costly: estimated ${formatCost(cost)} units, the limit is ${CEL_LIMITS.maxCost} (lists from the event assumed to hold ${CEL_LIMITS.assumedSize} items): ${quoted}`);
    }
    program = plan(env, parsed) as (vars: Record<string, unknown>) => unknown;
  } catch (err) {
    if (err instanceof DaprError) throw err;
    throw errors.malformedRequest(`invalid CEL expression: ${(err as Error).message}: ${quoted}`);
  }
  return {
    expression,
    cost,
    eval(vars) {
      const outer = meter;
      const own: Meter = { spent: 0, ticks: 0, deadline: performance.now() + CEL_LIMITS.maxEvalMs, exhausted: false };
      meter = own;
      try {
        const value = program(vars);
        return own.exhausted ? { ok: false, spent: own.spent } : { ok: true, value, spent: own.spent };
      } finally {
        meter = outer;
      }
    },
  };
}

function formatCost(cost: number): string {
  return cost >= 1e6 ? cost.toExponential(1) : String(Math.ceil(cost));
}

// ---- run-time budget: each comprehension's loop condition becomes `STEP(w) && <condition>` ----

interface Meter {
  spent: number;
  ticks: number;
  deadline: number;
  exhausted: boolean;
}

/** The evaluation under way (evaluations are synchronous, so one at a time). */
let meter: Meter | undefined;

/** Not a name the CEL grammar can spell, so no expression can call it. */
const STEP = "@rapr_step";

function step(weight: bigint): boolean {
  const m = meter;
  if (!m) return true;
  if (m.exhausted) return false;
  m.spent += Number(weight);
  if (m.spent > CEL_LIMITS.maxCost || ((++m.ticks & 63) === 0 && performance.now() > m.deadline)) m.exhausted = true;
  return !m.exhausted;
}

const env = celEnv({ funcs: [celFunc(STEP, [CelScalar.INT], CelScalar.BOOL, step)] });

function meterLoop(c: Kind<"comprehensionExpr">, weight: number) {
  const guard = parse(`f(${weight}) && true`).expr;
  const and = guard.exprKind.value as Kind<"callExpr">;
  (and.args[0].exprKind.value as Kind<"callExpr">).function = STEP;
  and.args[1] = c.loopCondition!;
  c.loopCondition = guard;
}

// ---- static estimate ----

/** n: elements of a list, entries of a map, characters of a string or bytes (0 for scalars); elem: its elements'. */
interface Size {
  n: number;
  elem?: Size;
}

const ASSUMED: Size = { n: CEL_LIMITS.assumedSize };
ASSUMED.elem = ASSUMED;
const SCALAR: Size = { n: 0 };

/** cost: the whole expression; flat: without the iterations of the loops inside (those are metered themselves). */
interface Estimate {
  cost: number;
  flat: number;
  size: Size;
}

const LIST_CREATE = 10;
const MAP_CREATE = 30;
/** Characters per unit when a function walks a string (cel-go's StringTraversalCostFactor). */
const TRAVERSAL = 0.1;

function maxSize(all: Size[]): Size {
  const sizes = [...new Set(all)];
  if (sizes.length <= 1) return sizes[0] ?? SCALAR;
  const n = Math.max(...sizes.map((s) => s.n));
  const elems = sizes.flatMap((s) => (s.elem ? [s.elem] : []));
  return elems.length ? { n, elem: maxSize(elems) } : { n };
}

function sum(parts: Estimate[], own: number, size: Size): Estimate {
  let cost = own;
  let flat = own;
  for (const p of parts) {
    cost += p.cost;
    flat += p.flat;
  }
  return { cost, flat, size };
}

/** Walks the parsed expression; also puts the run-time meter into every comprehension it meets. */
function estimate(expr: Expr, scope: Map<string, Size>): Estimate {
  const k = expr.exprKind;
  switch (k.case) {
    case "constExpr": {
      const v = k.value.constantKind.value;
      return { cost: 0, flat: 0, size: typeof v === "string" || v instanceof Uint8Array ? { n: v.length } : SCALAR };
    }
    case "identExpr":
      return { cost: 1, flat: 1, size: scope.get(k.value.name) ?? ASSUMED };
    case "selectExpr": {
      const operand = estimate(k.value.operand!, scope);
      return sum([operand], 1, k.value.testOnly ? SCALAR : (operand.size.elem ?? ASSUMED));
    }
    case "listExpr": {
      const items = k.value.elements.map((e) => estimate(e, scope));
      return sum(items, LIST_CREATE, { n: items.length, elem: maxSize(items.map((i) => i.size)) });
    }
    case "structExpr": {
      const keys = k.value.entries.flatMap((e) => (e.keyKind.case === "mapKey" ? [estimate(e.keyKind.value, scope)] : []));
      const values = k.value.entries.map((e) => estimate(e.value!, scope));
      return sum([...keys, ...values], MAP_CREATE, { n: values.length, elem: maxSize(values.map((v) => v.size)) });
    }
    case "callExpr":
      return estimateCall(k.value, scope);
    case "comprehensionExpr":
      return estimateLoop(k.value, scope);
    default:
      return { cost: 1, flat: 1, size: ASSUMED };
  }
}

function estimateLoop(c: Kind<"comprehensionExpr">, scope: Map<string, Size>): Estimate {
  const range = estimate(c.iterRange!, scope);
  const init = estimate(c.accuInit!, scope);
  const inner = new Map(scope);
  inner.set(c.iterVar, range.size.elem ?? ASSUMED);
  // map() and filter() gather up to one element per iteration.
  inner.set(c.accuVar, { n: init.size.n + range.size.n, elem: ASSUMED });
  const cond = estimate(c.loopCondition!, inner);
  const body = estimate(c.loopStep!, inner);
  const accu: Size = { n: init.size.n + range.size.n, elem: maxSize([ASSUMED, body.size.elem ?? SCALAR]) };
  inner.set(c.accuVar, accu);
  const result = estimate(c.result!, inner);
  // An iteration spends its flat cost, rounded up, at run time; its inner loops spend theirs.
  const weight = Math.max(1, Math.ceil(cond.flat + body.flat));
  meterLoop(c, weight);
  const innerLoops = cond.cost - cond.flat + body.cost - body.flat;
  return {
    cost: range.cost + init.cost + range.size.n * (weight + innerLoops) + result.cost + 1,
    flat: range.flat + init.flat + result.flat + 1,
    size: result.size,
  };
}

function estimateCall(call: Kind<"callExpr">, scope: Map<string, Size>): Estimate {
  const target = call.target ? estimate(call.target, scope) : undefined;
  const args = call.args.map((a) => estimate(a, scope));
  const all = target ? [target, ...args] : args;
  const sizes = all.map((a) => a.size);
  switch (call.function) {
    case "_&&_":
    case "_||_":
    case "!_":
    case "@not_strictly_false":
      return sum(all, 0, SCALAR);
    case "_?_:_":
      return sum(all, 0, maxSize(sizes.slice(1)));
    case "_[_]":
      return sum(all, 1, sizes[0].elem ?? ASSUMED);
    case "_+_": {
      const n = sizes.reduce((t, s) => t + s.n, 0);
      return sum(all, 1 + n * TRAVERSAL, n ? { n, elem: maxSize(sizes.flatMap((s) => (s.elem ? [s.elem] : []))) } : SCALAR);
    }
    case "_==_":
    case "_!=_":
    case "_<_":
    case "_<=_":
    case "_>_":
    case "_>=_":
      // A comparison stops at the end of the shorter value.
      return sum(all, 1 + Math.min(...sizes.map((s) => s.n)) * TRAVERSAL, SCALAR);
    case "@in":
      return sum(all, 1 + sizes[1].n, SCALAR);
    case "matches":
      // Linear-time RE2, but per character of the input times the pattern's size.
      return sum(all, 1 + Math.ceil(sizes[0].n * TRAVERSAL) * Math.ceil((sizes[1]?.n ?? 0) / 4), SCALAR);
    case "size":
      return sum(all, 1, SCALAR);
    default:
      // Comparisons, string functions and conversions walk their arguments at most once.
      return sum(all, 1 + sizes.reduce((t, s) => t + s.n, 0) * TRAVERSAL, maxSize(sizes));
  }
}
