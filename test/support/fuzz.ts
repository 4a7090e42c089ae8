// Shared by the seeded fuzz tests: a replayable random source (RAPR_FUZZ_SEED overrides the default seed).
import { seededRandom } from "../../src/cluster/membership/simulation.js";

export function fuzzRandom(defaultSeed: number) {
  const seed = Number(process.env.RAPR_FUZZ_SEED ?? defaultSeed);
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  return { seed, rand, pick };
}

/** JSON text `levels` deep: arrays and objects mixed at random around a scalar. */
export function nestedJson(levels: number, rand: () => number): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < levels; i++) {
    const array = rand() < 0.5;
    open.push(array ? "[" : '{"k":');
    close.push(array ? "]" : "}");
  }
  const leaf = ["1", '"s"', "null", "true"][Math.floor(rand() * 4)];
  return open.join("") + leaf + close.reverse().join("");
}
