/**
 * Facts fixed when the binary is built. scripts/build.ts replaces the BUNKER_BUILD_* globals with
 * `--define`; running from source (bun services/main.ts) leaves them undefined and the values say so.
 */
declare const BUNKER_BUILD_VERSION: string | undefined;
declare const BUNKER_BUILD_COMMIT: string | undefined;
declare const BUNKER_BUILD_TIME: string | undefined;

export interface BuildInfo {
  version: string;
  commit: string;
  bun: string;
  built: string;
}

export function buildInfo(): BuildInfo {
  return {
    version: typeof BUNKER_BUILD_VERSION === "string" ? BUNKER_BUILD_VERSION : "dev",
    commit: typeof BUNKER_BUILD_COMMIT === "string" ? BUNKER_BUILD_COMMIT : "unknown",
    bun: Bun.version,
    built: typeof BUNKER_BUILD_TIME === "string" ? BUNKER_BUILD_TIME : "not built (running from source)",
  };
}
