// Runs before every test file: keep the runtime's logs out of test output unless asked for.
process.env.RAPR_LOG_LEVEL ??= "error";
// The 60 s default test timeout comes from `bun test --timeout 60000` (package.json): bunfig.toml's [test] timeout is
// not a key Bun reads, and setDefaultTimeout here reaches only the first test file of a run (Bun 1.4.5). Set here too,
// for a plain `bun test <file>`.
import { afterAll, setDefaultTimeout } from "bun:test";
setDefaultTimeout(60_000);
// Clustering: hyperswarm/hyperdht load the TypeScript UDX in place of the udx-native addon (issue 3).
import "../src/cluster/udx/register.js";
// A last net once every file has run: processes of test sidecars (an app whose rapr was SIGKILLed) no stop() ended.
import { killAllMarked } from "./support/leftovers.js";
afterAll(() => {
  const left = killAllMarked();
  if (left.length > 0) console.warn(`test/preload.ts: killed ${left.length} process(es) left by test sidecars: ${left.join(", ")}`);
});
