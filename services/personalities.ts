import type { Personality } from "./personality.ts";

/**
 * Every name the binary answers to. One line per personality; the folder of the same name holds
 * its code. Imports are dynamic so `bunker --help` loads none of them.
 */
export const personalities: Personality[] = [
  { name: "bunkerctl", summary: "the remote client: generate configs, drive nodes through the API", load: () => import("./bunkerctl/main.ts") },
  { name: "diag", summary: "console diagnostics: links, addrs, routes (from the kernel)", load: () => import("./diag/main.ts") },
  { name: "networkd", summary: "links, addresses, routes, DHCP, hostname, resolvers and time from the machine config", load: () => import("./networkd/main.ts") },
  { name: "version", summary: "print the version, commit, Bun version and build time", load: () => import("./version/main.ts") },
];

/** Other names a personality answers to (`bunker ctl` is `bunkerctl`). */
export const aliases: Record<string, string> = { ctl: "bunkerctl" };

export function findPersonality(name: string): Personality | undefined {
  const real = aliases[name] ?? name;
  return personalities.find((p) => p.name === real);
}
