/**
 * The exit codes of bunkerctl, for scripts. Each says who has to act: the caller's command line
 * (2), the client config (3), the network or the node being up (4), the credentials (5), or
 * time (6). 1 is every other failed call: the node answered and said no.
 */
export const EXIT = {
  OK: 0,
  /** The node answered with an error (not found, invalid config, unimplemented, ...). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The client config is missing, invalid, or has no credentials for the call. */
  CONFIG: 3,
  /** The node could not be reached (refused, unreachable, no answer in time). */
  UNREACHABLE: 4,
  /** The node refused who we are or what we may do (TLS, UNAUTHENTICATED, PERMISSION_DENIED). */
  DENIED: 5,
  /** A wait (health, reboot --wait) ran out of time. */
  TIMEOUT: 6,
} as const;
