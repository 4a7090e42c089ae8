// CEL filters for the cost-bound tests: the nested all() over list literals, and a seeded generator of
// comprehensions (nested, chained with map/filter, over literals and event lists) for the fuzz tests.
import type { fuzzRandom } from "../support/fuzz.js";

export const listLiteral = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(",")}]`;

/** `depth` nested all() over n-item list literals: n^depth iterations per event. */
export function nestedAll(depth: number, n: number): string {
  let body = "true";
  for (let d = depth; d > 0; d--) body = `${listLiteral(n)}.all(v${d}, ${body})`;
  return body;
}

/** Random boolean CEL expressions over `event` (fields data.items, data.s, data.n, type). */
export function filterGenerator({ rand, pick }: ReturnType<typeof fuzzRandom>) {
  const VARS = ["x", "y", "z", "w"];
  function list(depth: number): string {
    const r = rand();
    if (r < 0.3) return listLiteral(Math.floor(rand() * 40));
    if (r < 0.5) return "event.data.items";
    if (r < 0.6) return `${list(depth + 1)} + ${list(depth + 1)}`;
    if (depth < 3 && r < 0.8) return `${list(depth + 1)}.${pick(["map", "filter"])}(${pick(VARS)}, ${filter(depth + 1)})`;
    return `[${Array.from({ length: Math.floor(rand() * 5) }, () => pick(['"a"', "1", "event.data.s", "[1, 2]"])).join(", ")}]`;
  }
  function filter(depth = 0): string {
    const r = rand();
    if (depth >= 4 || r < 0.3) return pick(["true", "false", "event.data.n > 1", 'event.data.s.contains("b")', "size(event.data.items) < 3", 'event.type == "t"']);
    if (r < 0.45) return `${filter(depth + 1)} ${pick(["&&", "||"])} ${filter(depth + 1)}`;
    if (r < 0.55) return `${pick(["1", '"a"'])} in ${list(depth + 1)}`;
    return `${list(depth + 1)}.${pick(["all", "exists", "exists_one"])}(${pick(VARS)}, ${filter(depth + 1)})`;
  }
  return filter;
}
