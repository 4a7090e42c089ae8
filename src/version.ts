declare const RAPR_VERSION_DEFINE: string | undefined;

/** Set at build time by scripts/build.ts; "dev" when run from source. */
export const RAPR_VERSION: string = typeof RAPR_VERSION_DEFINE === "string" ? RAPR_VERSION_DEFINE : "0.1.0-dev";
