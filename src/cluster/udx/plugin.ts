// Bun plugins that let the published hyperswarm / hyperdht / dht-rpc packages run unmodified on Bun.
//
// `udx-native` -> the TypeScript UDX (./udx-native.cjs). The real addon needs libuv's UDP and interface
// functions (uv_udp_init, uv_interface_addresses), which Bun does not implement: it panics.
//
// `sodium-native` (build only) -> a static `require()` of the platform's prebuilt .node file. Its
// binding.js calls `require.addon('.', __filename)`: require-addon searches prebuilds/ on disk at run time
// and requires a computed path, which no bundler can follow, so a compiled binary looks for node_modules
// beside it (ADDON_NOT_FOUND). A static require of a .node path is embedded by `bun build --compile` and
// loaded from the executable. At run time (bun run / bun test) sodium-native loads as is.
import type { BunPlugin } from "bun";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const shimPath = new URL("./udx-native.cjs", import.meta.url).pathname;

/** For `Bun.plugin()` in a preload. Bun's run-time resolver skips onResolve for bare package names, so
 * this swaps the package's entry file instead; the special export name makes `require()` return the class. */
export const udxRuntimePlugin: BunPlugin = {
  name: "rapr-udx-native-runtime",
  setup(build) {
    build.onLoad({ filter: /[\\/]udx-native[\\/]lib[\\/]udx\.js$/ }, () => ({
      contents: `import UDX from ${JSON.stringify(shimPath)};\nexport { UDX as "module.exports" };\n`,
      loader: "js",
    }));
  },
};

/** For `Bun.build({ plugins })`, including `compile`. */
export const udxBuildPlugin: BunPlugin = {
  name: "rapr-udx-native-build",
  setup(build) {
    build.onResolve({ filter: /^udx-native$/ }, () => ({ path: shimPath }));
    build.onLoad({ filter: /[\\/]sodium-native[\\/]binding\.js$/ }, ({ path }) => {
      const addon = join(dirname(path), "prebuilds", `${process.platform}-${process.arch}`, "sodium-native.node");
      // No prebuild for this platform: leave the file alone (the binary then needs node_modules for sodium).
      if (!existsSync(addon)) return undefined;
      return { contents: `module.exports = require(${JSON.stringify(addon)});\n`, loader: "js" };
    });
  },
};
