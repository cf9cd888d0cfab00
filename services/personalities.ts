import type { Personality } from "./personality.ts";

/**
 * Every name the binary answers to. One line per personality; the folder of the same name holds
 * its code. Imports are dynamic so `bunker --help` loads none of them.
 */
export const personalities: Personality[] = [
  { name: "apid", summary: "the API gateway: mTLS on TCP 50000, roles from client certificates, forwards to init", load: () => import("./apid/main.ts") },
  { name: "bunkerctl", summary: "the remote client: generate configs, drive nodes through the API", load: () => import("./bunkerctl/main.ts") },
  { name: "diag", summary: "console diagnostics: links, addrs, routes (from the kernel)", load: () => import("./diag/main.ts") },
  { name: "exec-helper", summary: "internal: apply a service's credentials and limits, then exec it", load: () => import("./exec-helper/main.ts") },
  { name: "init", summary: "the machine daemon: PID 1, services, boot sequence, resources, local API", load: () => import("./init/main.ts") },
  { name: "networkd", summary: "links, addresses, routes, DHCP, hostname, resolvers and time from the machine config", load: () => import("./networkd/main.ts") },
  { name: "partition", summary: "disks, the GPT and Bunker's disk layout: show, plan, apply, repair, grow", load: () => import("./partition/main.ts") },
  { name: "poweroff", summary: "ask init to power the machine off", load: () => import("./poweroff/main.ts") },
  { name: "reboot", summary: "ask init to reboot the machine", load: () => import("./reboot/main.ts") },
  { name: "shutdown", summary: "ask init to shut the machine down (power off)", load: () => import("./shutdown/main.ts") },
  { name: "trustd", summary: "sign the certificate requests of joining nodes (TCP 50001), token-authenticated", load: () => import("./trustd/main.ts") },
  { name: "verify-image", summary: "check an image folder against its signed manifest", load: () => import("./verify-image/main.ts") },
  { name: "version", summary: "print the version, commit, Bun version and build time", load: () => import("./version/main.ts") },
];

/**
 * Names of the design that are not built yet. They are listed, and answer plainly that they do
 * not exist in this build, rather than pretending or being mistaken for a typo.
 */
export const planned: { name: string; summary: string }[] = [
  { name: "dashboard", summary: "the console view of the node's state" },
];

/** Other names a personality answers to (`bunker ctl` is `bunkerctl`). */
export const aliases: Record<string, string> = { ctl: "bunkerctl" };

export function findPersonality(name: string): Personality | undefined {
  const real = aliases[name] ?? name;
  return personalities.find((p) => p.name === real);
}
