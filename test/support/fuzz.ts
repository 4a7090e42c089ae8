// Shared by the seeded fuzz tests: a replayable random source (RAPR_FUZZ_SEED overrides the default seed).
import { seededRandom } from "../../src/cluster/membership/simulation.js";

export function fuzzRandom(defaultSeed: number) {
  const seed = Number(process.env.RAPR_FUZZ_SEED ?? defaultSeed);
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  return { seed, rand, pick };
}
