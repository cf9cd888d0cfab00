/**
 * The frame of every command that talks to nodes: the connection flags (--bunkerconfig,
 * --context, -e, -n, --insecure, --timeout), the target they resolve to, one call per node, and
 * failures printed with what to do next and mapped to the documented exit codes.
 */
import type { ParseArgsConfig } from "node:util";
import { clientConfigPath, parseCommandArgs, usageError, type Parsed } from "../args.ts";
import { Api, destinations, type Destination } from "./api.ts";
import { explain } from "./errors.ts";
import { EXIT } from "./exitcodes.ts";
import { parseDuration, parseFormat, type Format } from "./output.ts";
import { ConfigError, resolveTarget, type Target } from "./target.ts";
import { parseFingerprint } from "../../../core/pki/fingerprint.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

export const CONNECT_OPTIONS = {
  bunkerconfig: { type: "string" },
  context: { type: "string" },
  endpoints: { type: "string", short: "e", multiple: true },
  nodes: { type: "string", short: "n", multiple: true },
  insecure: { type: "boolean" },
  fingerprint: { type: "string" },
  timeout: { type: "string" },
} as const;

export const CONNECT_HELP = `Connection:
  -e, --endpoints ADDR[,ADDR]  apid to dial (port 50000 unless given); default: the context's
  -n, --nodes NODE[,NODE]      nodes to act on, relayed by the endpoint; one result per node
  --context NAME               context of the client config (default: its current one)
  --bunkerconfig PATH          client config (default $BUNKERCONFIG, else ~/.bunker/config)
  --insecure                   maintenance mode: no client certificate, the node's not verified
  --fingerprint SHA256         with --insecure: the node's certificate must have this SHA-256
                               fingerprint (SHA256:BASE64 or openssl's AB:CD:... hex, as its
                               console shows); another is refused before anything is sent
  --timeout DURATION           limit for each call, e.g. 10s, 2m (default 30s)`;

export const OUTPUT_HELP = "  -o, --output FORMAT          table (default), json or yaml";

const DEFAULT_TIMEOUT_MS = 30_000;

export interface Remote {
  api: Api;
  target: Target;
  dests: Destination[];
  /** Prints an error of a call to `where` with advice; returns its exit code. */
  fail(err: unknown, where: string): number;
  /**
   * Runs `fn` for every destination at once. Failures are printed (node named) as they end;
   * returns the results of the others and the exit code of the first failure in node order.
   */
  each<T>(fn: (d: Destination) => Promise<T>): Promise<{ results: { d: Destination; value: T }[]; exit: number }>;
}

export type RemoteArgs<O extends Options> = Parsed<O & typeof CONNECT_OPTIONS>;

/** Parses argv (help, usage errors: exit 2), resolves the target (config errors: exit 3) and runs `body`. */
export async function runRemote<O extends Options>(
  argv: string[], help: string, options: O, positionals: [number, number],
  body: (a: RemoteArgs<O>, r: Remote) => Promise<number>,
): Promise<number> {
  const a = parseCommandArgs(argv, help, { ...options, ...CONNECT_OPTIONS }, positionals) as RemoteArgs<O> | number;
  if (typeof a === "number") return a;
  const v = a.values as Record<string, unknown>;
  const timeoutMs = v.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(v.timeout as string);
  if (timeoutMs === undefined || timeoutMs <= 0) return usageError(help, `--timeout ${v.timeout}: expected a duration such as 10s or 2m`);
  let pinSha256: Buffer | undefined;
  if (v.fingerprint !== undefined) {
    // Only the self-signed certificate of maintenance mode needs it: a CA already vouches for the others.
    if (v.insecure !== true) return usageError(help, "--fingerprint pins the self-signed certificate of a node in maintenance mode: use it with --insecure");
    try { pinSha256 = parseFingerprint(v.fingerprint as string); } catch (e) { return usageError(help, `--fingerprint: ${(e as Error).message}`); }
  }
  let target: Target;
  try {
    target = resolveTarget({
      bunkerconfig: v.bunkerconfig as string | undefined,
      context: v.context as string | undefined,
      endpoints: v.endpoints as string[] | undefined,
      nodes: v.nodes as string[] | undefined,
      insecure: v.insecure as boolean | undefined,
    }, clientConfigPath(v.bunkerconfig as string | undefined));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`error: ${e.message}`);
    return EXIT.CONFIG;
  }
  if (pinSha256) target = { ...target, pinSha256 };
  const api = new Api(target, timeoutMs);
  const fail = (err: unknown, where: string) => {
    const x = explain(err, target, where);
    console.error(`error: ${x.message}`);
    return x.exit;
  };
  const remote: Remote = {
    api, target, dests: destinations(target), fail,
    async each(fn) {
      const settled = await Promise.all(this.dests.map(async (d) => {
        try {
          return { d, value: await fn(d) };
        } catch (err) {
          return { d, exit: fail(err, d.label) };
        }
      }));
      const failed = settled.find((s): s is { d: Destination; exit: number } => "exit" in s);
      return { results: settled.filter((s): s is { d: Destination; value: Awaited<ReturnType<typeof fn>> } => "value" in s), exit: failed?.exit ?? EXIT.OK };
    },
  };
  try {
    return await body(a, remote);
  } catch (err) {
    return fail(err, remote.dests.map((d) => d.label).join(", "));
  } finally {
    api.close();
  }
}

/** -o from the parsed values, or exit 2 with the help. */
export function formatOption(value: string | undefined, help: string, allowed?: readonly Format[]): Format | number {
  const f = parseFormat(value, allowed);
  return f === "table" || f === "json" || f === "yaml" ? f : usageError(help, f);
}

/** The -o option, for commands whose output is data. */
export const FORMAT_OPTION = { output: { type: "string", short: "o" } } as const;
