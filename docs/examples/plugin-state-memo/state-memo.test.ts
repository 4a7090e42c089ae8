// Runs rapr's StateStore conformance suite against the plugin, loaded from ./plugins exactly as `rapr run
// --plugins-path ./plugins` loads it. Run with `bun test` in this directory (rapr installed as a dev dependency).
import { join } from "node:path";
import type { StateStore } from "rapr/contracts/state";
import { createComponent, loadPlugin } from "rapr/conformance/harness";
import { describeStateConformance } from "rapr/conformance/state";

const plugin = await loadPlugin(join(import.meta.dir, "plugins"), "state.memo");

await describeStateConformance("state.memo", async () => ({ component: await createComponent<StateStore>(plugin, { maxValueBytes: "2000000" }) }), {
  expectFeatures: ["ETAG", "TRANSACTIONAL"],
});
