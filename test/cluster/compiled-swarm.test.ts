// `bun build --compile` with the UDX build plugin yields an executable that joins a swarm with no
// node_modules beside it: udx-native is replaced by the TS UDX, sodium-native's addon is embedded.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { udxBuildPlugin } from "../../src/cluster/udx/plugin.js";

const dir = mkdtempSync(join(tmpdir(), "rapr-swarm-probe-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a compiled executable joins a swarm without node_modules", async () => {
  const outfile = join(dir, "swarm-probe");
  const result = await Bun.build({
    entrypoints: [new URL("./fixtures/swarm-probe.ts", import.meta.url).pathname],
    compile: { outfile },
    plugins: [udxBuildPlugin],
  });
  if (!result.success) console.error(result.logs);
  expect(result.success).toBe(true);

  const proc = Bun.spawn([outfile], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) console.error(err);
  expect(out).toContain("RECEIVED over udx and noise");
  expect(code).toBe(0);
}, 60_000);
