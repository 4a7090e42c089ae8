// Runs before every test file: keep the runtime's logs out of test output unless asked for.
process.env.RAPR_LOG_LEVEL ??= "error";
// bunfig.toml's [test] timeout is not a key Bun reads (the default stays 5 s); set the intended 60 s here.
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
