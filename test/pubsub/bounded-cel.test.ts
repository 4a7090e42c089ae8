// The one cost model for every CEL expression the sidecar evaluates (routing rules, outside subscribers' filters):
// size and estimated cost checked at compile time, a budget per evaluation. The seeded fuzz checks the estimate is
// sound: an evaluation over an event within the assumed sizes never spends more than the estimate.
import { describe, expect, test } from "bun:test";
import { CEL_LIMITS, compileBoundedCel } from "../../src/blocks/pubsub/bounded-cel.js";
import { celEvent, compileRouter } from "../../src/blocks/pubsub/routing.js";
import type { CloudEvent } from "../../src/blocks/pubsub/cloudevents.js";
import { DaprError } from "../../src/errors.js";
import { fuzzRandom } from "../support/fuzz.js";
import { filterGenerator, listLiteral, nestedAll } from "./costly-filters.js";

const refusal = (expr: string) => {
  try {
    compileBoundedCel(expr);
  } catch (err) {
    expect(err).toBeInstanceOf(DaprError);
    expect((err as DaprError).errorCode).toBe("ERR_MALFORMED_REQUEST");
    expect((err as DaprError).httpStatus).toBe(400);
    return (err as Error).message;
  }
  return undefined;
};

const ce = (data: unknown): CloudEvent => ({ specversion: "1.0", id: "1", source: "s", type: "t", data }) as CloudEvent;

describe("compile-time bounds", () => {
  test("the issue's filters are refused: 3 nested all() over 200-item lists (too long), 5 nested over 60 (too costly)", () => {
    const three = nestedAll(3, 200);
    expect(three.length).toBeGreaterThan(2000);
    expect(refusal(three)).toStartWith("CEL expression too long: ");
    const five = nestedAll(5, 60);
    expect(five.length).toBeLessThan(CEL_LIMITS.maxChars);
    expect(refusal(five)).toStartWith("CEL expression too costly: estimated ");
    expect(refusal(nestedAll(3, 50))).toStartWith("CEL expression too costly");
  });

  test("ordinary filters pass, with event lists assumed to hold CEL_LIMITS.assumedSize items", () => {
    for (const ok of ['event.type == "order"', "event.data.items.exists(i, i.price > 100)", 'event.data.items.exists(i, i.tags.exists(t, t == "x"))', nestedAll(2, 50)]) {
      expect(refusal(ok)).toBeUndefined();
    }
    expect(refusal("event.data.a.all(x, event.data.a.all(y, event.data.a.all(z, true)))")).toStartWith("CEL expression too costly");
    expect(refusal("event.type ==")).toStartWith("invalid CEL expression: ");
  });

  test("map() results are as large as their range: chaining them multiplies", () => {
    expect(refusal(`${listLiteral(30)}.map(x, ${listLiteral(30)}).all(y, y.all(z, y.all(w, true)))`)).toStartWith("CEL expression too costly");
  });
});

describe("run-time budget", () => {
  test("an accepted filter over an event far larger than assumed stops at the budget and does not match", () => {
    const c = compileBoundedCel("event.data.a.all(x, event.data.a.all(y, y >= 0))");
    const small = c.eval({ event: celEvent(ce({ a: [1, 2, 3] })) }, undefined, Infinity);
    expect(small).toMatchObject({ ok: true, value: true });
    const huge = c.eval({ event: celEvent(ce({ a: Array.from({ length: 5000 }, (_, i) => i) })) }, undefined, Infinity);
    expect(huge.ok).toBe(false);
    // It stopped at the first iteration past the budget (one iteration spends a handful of units).
    expect(huge.spent).toBeLessThan(CEL_LIMITS.maxCost + 100);
  });

  test("routing rules use the same bounds: a costly rule is refused, an over-budget one does not match and is reported", () => {
    const spec = (match: string) => ({ pubsubName: "p", topic: "t", rules: [{ match, path: "/costly" }], defaultPath: "/default" }) as never;
    expect(() => compileRouter(spec(nestedAll(5, 60)), () => {})).toThrow(/too costly/);
    const reported: string[] = [];
    const router = compileRouter(spec("event.data.a.exists(x, event.data.a.exists(y, y < 0))"), (e) => reported.push(e));
    expect(router.route(ce({ a: [1, -1] }))).toBe("/costly");
    expect(router.route(ce({ a: Array.from({ length: 5000 }, (_, i) => i) }))).toBe("/default");
    expect(reported).toEqual(["event.data.a.exists(x, event.data.a.exists(y, y < 0))"]);
  });
});

describe("walking functions are charged by the actual sizes they walk, before they run", () => {
  const zeros = Array.from({ length: 200_000 }, () => 0);
  const long = "a".repeat(400_000);
  // Each was accepted and then ran for 1-2.5 s on one event (outside loops unmetered, inside loops charged as if the
  // event held CEL_LIMITS.assumedSize items), holding the event loop.
  const cases: [string, unknown][] = [
    ["event.data.a.exists(x, -1 in event.data.a)", { a: zeros }],
    [Array.from({ length: 40 }, () => "-1 in event.data.a").join(" || "), { a: zeros }],
    ["event.data.a.all(x, size(event.data.s) > 0)", { a: zeros, s: long }],
    ["event.data.a.all(x, event.data.a == event.data.b)", { a: zeros, b: [...zeros] }],
    ['event.data.s.matches("(a|b|c|d|e|f|g|h)*(x|y)+z")', { s: long }],
    ["(event.data.s + event.data.s + event.data.s).size() > 0", { s: long }],
    ["event.data.a.map(x, x).size() > 0", { a: zeros }],
  ];
  for (const [expr, data] of cases) {
    test(expr.slice(0, 60), () => {
      const c = compileBoundedCel(expr);
      const r = c.eval({ event: celEvent(ce(data)) }, undefined, Infinity);
      expect(r.ok).toBe(false);
      // Charged (the walk that would have gone over the budget did not run), yet fine on a small event.
      expect(r.spent).toBeGreaterThan(CEL_LIMITS.maxCost / 2);
      expect(c.eval({ event: celEvent(ce({ a: [1, 2], b: [1, 2], s: "ab" })) }, undefined, Infinity).ok).toBe(true);
    });
  }

  test("matches() costs by the compiled pattern, not its length: a short pattern of a large program is refused in a loop", () => {
    expect(refusal('event.data.items.exists(x, x.matches("\\pL{1000}"))')).toStartWith("CEL expression too costly");
    expect(refusal('event.data.items.exists(x, x.matches("^[a-z]+$"))')).toBeUndefined();
  });

  test("a smaller budget stops the evaluation sooner (the topic's budget shared by its filters)", () => {
    const c = compileBoundedCel("event.data.a.all(x, x >= 0)");
    const event = celEvent(ce({ a: Array.from({ length: 1000 }, (_, i) => i) }));
    expect(c.eval({ event }, undefined, Infinity).ok).toBe(true);
    expect(c.eval({ event }, 100, Infinity)).toMatchObject({ ok: false });
  });
});

describe("seeded fuzz of comprehensions", () => {
  const fuzz = fuzzRandom(20261207);
  const { seed: SEED, rand } = fuzz;
  const randomFilter = filterGenerator(fuzz);
  const CASES = 400;
  const A = CEL_LIMITS.assumedSize;
  function event(limit: number) {
    const n = Math.floor(rand() * (limit + 1));
    return ce({ items: Array.from({ length: n }, (_, i) => (rand() < 0.5 ? i : "b".repeat(i % 5))), s: "ab".repeat(Math.floor(rand() * (A / 2))), n: Math.floor(rand() * 5) });
  }

  test(`${CASES} random filters (seed ${SEED}): refused with a 400, or never spending more than estimated`, () => {
    let accepted = 0;
    let refused = 0;
    const failures: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const expr = randomFilter();
      let c;
      try {
        c = compileBoundedCel(expr);
      } catch (err) {
        if (!(err instanceof DaprError) || err.httpStatus !== 400) failures.push(`${expr}: ${(err as Error).message}`);
        refused++;
        continue;
      }
      accepted++;
      // Within the assumed sizes the estimate bounds the spend; beyond them the budget does.
      const within = c.eval({ event: celEvent(event(A)) }, undefined, Infinity);
      if (within.spent > c.cost) failures.push(`${expr}: spent ${within.spent} > estimated ${c.cost}`);
      const beyond = c.eval({ event: celEvent(event(5 * A)) }, undefined, Infinity);
      if (beyond.spent > CEL_LIMITS.maxCost + 1000) failures.push(`${expr}: spent ${beyond.spent} over the budget`);
    }
    if (failures.length) console.error(`seed ${SEED}:\n${failures.slice(0, 5).join("\n")}`);
    expect(failures).toEqual([]);
    expect(accepted).toBeGreaterThan(CASES / 10);
    expect(refused).toBeGreaterThan(0);
  });
});
