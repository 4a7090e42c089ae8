// Every CEL expression the sidecar evaluates (routing rules `match:`, outside subscribers' `filter`) goes through
// here: bounded in size, refused when its estimated cost is over the limit, and evaluated with a budget.
//
// One cost model, after cel-go's (checker/cost.go for the estimate, interpreter/runtimecost.go for the budget): a
// unit is about one step of evaluation; a comprehension (`all`, `exists`, `exists_one`, `map`, `filter`) costs
// its range, its start and result, plus the size of its range times the cost of one iteration; a function that walks
// its arguments (comparison, `+`, `in`, `contains`, `size`, conversions…) costs in proportion to their sizes, and
// `matches` to the input's size times the compiled pattern's. Sizes are exact for literals and assumed
// (CEL_LIMITS.assumedSize) for whatever comes from the event. At run time the same costs are spent from the
// evaluation's budget, with the actual sizes: each comprehension iteration spends its flat cost, each walking
// function its arguments' sizes before it runs. Once the budget or the time is spent, loops stop at their next
// iteration, no walking function runs, and the evaluation is over budget.
import { CelScalar, celEnv, celFunc, isCelList, isCelMap, parse, plan } from "@bufbuild/cel";
import { RE2JS } from "@bufbuild/re2";
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
  /**
   * Evaluates within `budget` units (at most CEL_LIMITS.maxCost) and `maxMs` of wall time (CEL_LIMITS.maxEvalMs; the
   * units decide, the time is a backstop, so a test of the cost model passes Infinity to stay independent of load).
   */
  eval(vars: Record<string, unknown>, budget?: number, maxMs?: number): BoundedResult;
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
    eval(vars, budget = CEL_LIMITS.maxCost, maxMs = CEL_LIMITS.maxEvalMs) {
      const outer = meter;
      const own: Meter = { spent: 0, budget: Math.min(budget, CEL_LIMITS.maxCost), deadline: performance.now() + maxMs, exhausted: false };
      meter = own;
      try {
        const value = program(vars);
        return own.exhausted ? { ok: false, spent: own.spent } : { ok: true, value, spent: own.spent };
      } catch (err) {
        if (own.exhausted) return { ok: false, spent: own.spent };
        throw err;
      } finally {
        meter = outer;
      }
    },
  };
}

function formatCost(cost: number): string {
  return cost >= 1e6 ? cost.toExponential(1) : String(Math.ceil(cost));
}

// ---- run-time budget: each comprehension's loop condition becomes `STEP(w) && <condition>`, each walking function's
// argument `SIZED(arg, factor)`, and `matches` charges before it runs ----

interface Meter {
  spent: number;
  budget: number;
  deadline: number;
  exhausted: boolean;
}

/** The evaluation under way (evaluations are synchronous, so one at a time). */
let meter: Meter | undefined;

/** Not names the CEL grammar can spell, so no expression can call them. */
const STEP = "@rapr_step";
const SIZED = "@rapr_sized";

class OverBudgetError extends Error {}

/** Spends units from the evaluation's budget; false once it (or its time) is spent. */
function charge(units: number): boolean {
  const m = meter;
  if (!m) return true;
  if (m.exhausted) return false;
  m.spent += units;
  if (m.spent > m.budget || performance.now() > m.deadline) m.exhausted = true;
  return !m.exhausted;
}

/** Charges what is about to be walked; an error value (so the walk never runs) once the budget is spent. */
function chargeOrStop(units: number): void {
  if (!charge(units)) throw new OverBudgetError("CEL evaluation over its budget");
}

/** Characters of a string, bytes of bytes, elements of a list, entries of a map; 0 for scalars. */
function runtimeSize(v: unknown): number {
  if (typeof v === "string" || v instanceof Uint8Array) return v.length;
  if (isCelList(v) || isCelMap(v)) return v.size;
  return 0;
}

const MAX_CACHED_PATTERNS = 64;
const patterns = new Map<string, RE2JS>();

/** Compiled once per pattern (RE2: linear in the input times the program's instructions). */
function compilePattern(pattern: string): RE2JS {
  let re = patterns.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    if (patterns.size >= MAX_CACHED_PATTERNS) patterns.delete(patterns.keys().next().value!);
    patterns.set(pattern, re);
  }
  return re;
}

function instructions(re: RE2JS): number {
  return (re as unknown as { re2Input: { prog: { numInst(): number } } }).re2Input.prog.numInst();
}

/** `matches`: a pass over the input per four instructions of the pattern's program (cel-go: input × pattern). */
function matchCost(inputSize: number, instructionCount: number): number {
  return Math.ceil(inputSize * TRAVERSAL) * Math.ceil(instructionCount / 4);
}

const meteredRe2 = {
  compile(pattern: string) {
    const re = compilePattern(pattern);
    return {
      test(input: string): boolean {
        chargeOrStop(matchCost(input.length, instructions(re)));
        return re.test(input);
      },
    };
  },
};

const env = celEnv({
  funcs: [
    celFunc(STEP, [CelScalar.INT], CelScalar.BOOL, (weight: bigint) => charge(Number(weight))),
    celFunc(SIZED, [CelScalar.DYN, CelScalar.DOUBLE], CelScalar.DYN, (v, factor) => {
      chargeOrStop(factor * runtimeSize(v));
      return v;
    }),
  ],
  re2: meteredRe2 as never,
});

/** A call of one of the meter's functions, built from a parsed template (the grammar cannot name them). */
function meterCall(name: string, args: Expr[]): Expr {
  const call = parse(`f(${args.map(() => "x").join(", ")})`).expr;
  const value = call.exprKind.value as Kind<"callExpr">;
  value.function = name;
  value.args = args;
  return call;
}

function meterLoop(c: Kind<"comprehensionExpr">, weight: number) {
  c.loopCondition = meterCall("_&&_", [meterCall(STEP, [parse(String(weight)).expr]), c.loopCondition!]);
}

/** Wraps an argument so its size is charged, times factor, before the function walks it. */
function meterArg(arg: Expr, factor: number): Expr {
  return meterCall(SIZED, [arg, parse(factor.toFixed(3)).expr]);
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
  // An iteration spends its flat cost, rounded up, at run time; its inner loops and walking functions spend theirs.
  const weight = Math.max(1, Math.ceil(cond.flat + body.flat));
  meterLoop(c, weight);
  // The range is copied before the first iteration.
  c.iterRange = meterArg(c.iterRange!, TRAVERSAL);
  const innerLoops = cond.cost - cond.flat + body.cost - body.flat;
  return {
    cost: range.cost + init.cost + range.size.n * (TRAVERSAL + weight + innerLoops) + result.cost + 1,
    flat: range.flat + init.flat + result.flat + 1,
    size: result.size,
  };
}

/** Patterns from the event: instructions per pattern character assumed (RE2's worst, e.g. `.{1000}`). */
const INSTRUCTIONS_PER_PATTERN_CHAR = 150;

function estimateCall(call: Kind<"callExpr">, scope: Map<string, Size>): Estimate {
  const target = call.target ? estimate(call.target, scope) : undefined;
  const args = call.args.map((a) => estimate(a, scope));
  const all = target ? [target, ...args] : args;
  const sizes = all.map((a) => a.size);
  const exprs = call.target ? [call.target, ...call.args] : call.args;
  /** Charges the arguments' sizes (at run time: their actual sizes, before the call); `which` indexes `all`. */
  const walked = (factor: number, which = all.map((_, i) => i)): number => {
    let units = 0;
    for (const i of which) {
      units += factor * sizes[i].n;
      exprs[i] = meterArg(exprs[i], factor);
    }
    if (call.target) [call.target, ...call.args] = exprs;
    return units;
  };
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
      return sized(sum(all, 1, n ? { n, elem: maxSize(sizes.flatMap((s) => (s.elem ? [s.elem] : []))) } : SCALAR), walked(TRAVERSAL));
    }
    case "_==_":
    case "_!=_":
    case "_<_":
    case "_<=_":
    case "_>_":
    case "_>=_": {
      // A comparison stops at the end of the shorter value: against a literal, its size (flat); else both are charged.
      const literal = exprs.findIndex((e) => e.exprKind.case === "constExpr");
      return literal >= 0 ? sum(all, 1 + sizes[literal].n * TRAVERSAL, SCALAR) : sized(sum(all, 1, SCALAR), walked(TRAVERSAL));
    }
    case "@in":
      return sized(sum(all, 1, SCALAR), walked(1, [1]));
    case "matches": {
      const pattern = call.args[0]?.exprKind;
      const literal = pattern?.case === "constExpr" && typeof pattern.value.constantKind.value === "string" ? pattern.value.constantKind.value : undefined;
      const instructionCount = literal !== undefined ? instructions(compilePattern(literal)) : (sizes[1]?.n ?? 0) * INSTRUCTIONS_PER_PATTERN_CHAR;
      // The pattern's compilation walks it; the match is charged by the metered RE2 itself.
      return sized(sum(all, 1, SCALAR), matchCost(sizes[0].n, instructionCount) + walked(TRAVERSAL, [1]));
    }
    default:
      // `size`, string functions and conversions walk their arguments at most once.
      return sized(sum(all, 1, call.function.startsWith("_") ? SCALAR : maxSize(sizes)), walked(TRAVERSAL));
  }
}

/** Adds what is charged by size at run time: part of the cost, not of the flat cost a loop iteration spends. */
function sized(e: Estimate, units: number): Estimate {
  return { ...e, cost: e.cost + units };
}
