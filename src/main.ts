import { main } from "./cli/main.js";

/** After rapr stopped, work nobody waits for any more (a component init that never answers) may hold the event loop
 * open; it gets this long before the process exits anyway. */
const LINGER_AFTER_STOP_MS = 1_000;

// No top-level await: the compiled binary is precompiled to bytecode, which needs a CommonJS-shaped entry.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  setTimeout(() => process.exit(code), LINGER_AFTER_STOP_MS).unref();
});
