import { main } from "./cli/main.js";

// No top-level await: the compiled binary is precompiled to bytecode, which needs a CommonJS-shaped entry.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
