// Circuit breaker trip expressions as Dapr writes them (a CEL subset): comparisons of the breaker's counters
// joined with && and ||, e.g. "consecutiveFailures > 5" or "requests > 10 && totalFailures >= 3".

export interface BreakerCounts {
  requests: number;
  totalSuccesses: number;
  totalFailures: number;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
}

export type TripFn = (c: BreakerCounts) => boolean;

const COUNTERS = new Set(["requests", "totalSuccesses", "totalFailures", "consecutiveSuccesses", "consecutiveFailures"]);
const OPS: Record<string, (a: number, b: number) => boolean> = {
  ">": (a, b) => a > b,
  ">=": (a, b) => a >= b,
  "<": (a, b) => a < b,
  "<=": (a, b) => a <= b,
  "==": (a, b) => a === b,
  "!=": (a, b) => a !== b,
};

export function compileTrip(text: string): TripFn {
  const ors = text.split("||").map((alt) =>
    alt.split("&&").map((cmp) => {
      const m = /^\s*\(?\s*([A-Za-z]+)\s*(>=|<=|==|!=|>|<)\s*(\d+)\s*\)?\s*$/.exec(cmp);
      if (!m || !COUNTERS.has(m[1]!)) {
        throw new Error(`cannot read "${cmp.trim()}": expected <counter> <op> <number> with counter one of ${[...COUNTERS].join(", ")}`);
      }
      const key = m[1] as keyof BreakerCounts;
      const op = OPS[m[2]!]!;
      const n = Number(m[3]);
      return (c: BreakerCounts) => op(c[key], n);
    }),
  );
  return (c) => ors.some((ands) => ands.every((f) => f(c)));
}
