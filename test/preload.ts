// Runs before every test file: keep the runtime's logs out of test output unless asked for.
process.env.RAPR_LOG_LEVEL ??= "error";
