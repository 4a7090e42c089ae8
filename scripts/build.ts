// Compiles rapr into one self-contained executable: dist/rapr.
import { $ } from "bun";
import pkg from "../package.json";

const root = new URL("..", import.meta.url).pathname;
await $`mkdir -p dist`.cwd(root);
const result = await Bun.build({
  entrypoints: [`${root}src/main.ts`],
  compile: { outfile: `${root}dist/rapr` },
  minify: { syntax: true, whitespace: true },
  sourcemap: "linked",
  define: { RAPR_VERSION_DEFINE: JSON.stringify(pkg.version) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
