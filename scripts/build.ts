// Compiles rapr into one self-contained executable: dist/rapr.
import { $ } from "bun";
import pkg from "../package.json";
import { udxBuildPlugin } from "../src/cluster/udx/plugin.js";

const root = new URL("..", import.meta.url).pathname;
// RAPR_OUTFILE builds elsewhere (parallel work trees, side-by-side comparisons); tests take it as RAPR_BIN.
const outfile = process.env.RAPR_OUTFILE || `${root}dist/rapr`;
await $`mkdir -p ${outfile.slice(0, outfile.lastIndexOf("/")) || "."}`;
const result = await Bun.build({
  entrypoints: [`${root}src/main.ts`],
  compile: { outfile },
  minify: { syntax: true, whitespace: true },
  sourcemap: "linked",
  bytecode: true,
  define: { RAPR_VERSION_DEFINE: JSON.stringify(pkg.version) },
  plugins: [udxBuildPlugin], // hyperswarm on Bun: TS UDX for udx-native, embedded sodium addon
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}

// Best effort: the DPDK FFI shim. Without libdpdk it is skipped and rapr keeps the kernel data plane.
try {
  const shim = Bun.spawnSync(["bash", `${root}ffi/dpdk/build.sh`], { stdout: "inherit", stderr: "inherit" });
  if (shim.exitCode !== 0 && shim.exitCode !== 2) console.warn("dpdk shim: build failed; DPDK data plane unavailable");
} catch (err) {
  console.warn(`dpdk shim: not built (${err instanceof Error ? err.message : String(err)})`);
}
