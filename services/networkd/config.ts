/**
 * The network part of the machine config (machine.network and machine.time) as networkd takes
 * it: core/config's parsed view (addresses and prefixes as core/ip values, durations in ms). It
 * comes from one of two places:
 * - a machine config file (`--config`), checked whole by core/config's loadConfig, so errors
 *   name the YAML path and its line:column; the loader's parsed view is taken as it is;
 * - init's NetworkConfigs resource (networkd under init), which carries only those two sections
 *   as init's loadConfig made them: JSON, since it crosses init's socket, so they are parsed here,
 *   once, where they arrive (core/config's parseNetworkSections), without a second check.
 */
import * as v from "valibot";
import { formatProblems, loadConfig, NetworkSchema, parseNetworkSections, TimeSchema, type NetworkConfig } from "../../core/config/config.ts";

export type { NetworkConfig, RouteConfig } from "../../core/config/config.ts";

export class ConfigError extends Error {
  constructor(where: string, what: string) {
    super(`${where}: ${what}`);
    this.name = "ConfigError";
  }
}

function issuePath(prefix: string, issue: v.BaseIssue<unknown>): string {
  let p = prefix;
  for (const seg of issue.path ?? []) p += typeof seg.key === "number" ? `[${seg.key}]` : `.${String(seg.key)}`;
  return p;
}

/**
 * Checks `{network, time}` written by hand (tests, tools: what init sends is checked already)
 * with core/config's schemas and maps them; throws ConfigError naming the path of every problem.
 */
export function networkConfigOf(sections: { network?: unknown; time?: unknown }): NetworkConfig {
  const net = v.safeParse(NetworkSchema, sections.network ?? {}, { abortEarly: false });
  const time = v.safeParse(TimeSchema, sections.time ?? {}, { abortEarly: false });
  const problems = [
    ...(net.issues ?? []).map((i) => `${issuePath("machine.network", i)}: ${i.message}`),
    ...(time.issues ?? []).map((i) => `${issuePath("machine.time", i)}: ${i.message}`),
  ];
  if (!net.success || !time.success) throw new ConfigError("network config", problems.join("; "));
  return parseNetworkSections({ network: net.output, time: time.output });
}

/** Reads and checks a whole machine config file; errors carry FILE:LINE:COL and the YAML path. */
export async function loadNetworkConfig(file: string): Promise<NetworkConfig> {
  const text = await Bun.file(file).text();
  const res = loadConfig(text);
  if (!res.parsed) throw new ConfigError("machine config", `refused:\n${formatProblems(file, res.errors)}`);
  return res.parsed.network;
}
