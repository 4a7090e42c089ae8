// Runs before every test file: keep the runtime's logs out of test output unless asked for.
process.env.RAPR_LOG_LEVEL ??= "error";
// Clustering: hyperswarm/hyperdht load the TypeScript UDX in place of the udx-native addon (issue 3).
import "../src/cluster/udx/register.js";
