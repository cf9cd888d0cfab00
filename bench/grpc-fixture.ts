/** The Version answer both benchmark servers give, so they send the same bytes. */
export const BENCH_VERSION = {
  version: "0.1.0", commit: "0123456789ab", built: "2026-01-01T00:00:00.000Z", bunVersion: "1.4.5",
  arch: "x64", kernel: "6.1.0", maintenance: false, hostname: "bench-node",
};
