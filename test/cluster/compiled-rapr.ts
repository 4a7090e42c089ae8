// Builds rapr (src/main.ts + the UDX build plugin) once per test process into a temp dir with no
// node_modules, for cluster tests that run real rapr processes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { udxBuildPlugin } from "../../src/cluster/udx/plugin.js";

const root = new URL("../..", import.meta.url).pathname;
let built: Promise<{ dir: string; bin: string }> | undefined;

export function compiledRapr(): Promise<{ dir: string; bin: string }> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "rapr-cluster-bin-"));
    const bin = join(dir, "rapr");
    // A few attempts: in a tree others are editing, a build can catch a file mid-edit.
    let logs = "";
    for (let attempt = 1; attempt <= 3; attempt++) {
      const result = await Bun.build({
        entrypoints: [join(root, "src/main.ts")],
        compile: { outfile: bin },
        define: { RAPR_VERSION_DEFINE: JSON.stringify("0.0.0-cluster-test") },
        plugins: [udxBuildPlugin],
      });
      if (result.success) {
        logs = "";
        break;
      }
      logs = result.logs.map(String).join("\n");
      await Bun.sleep(3000);
    }
    if (logs) throw new Error(logs);
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return { dir, bin };
  })();
  return built;
}
