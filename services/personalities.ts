import { aliases, builtName, personalityNames, planned, type PersonalityName } from "./names.ts";
import type { Personality } from "./personality.ts";

/**
 * Every name the binary answers to. One line per personality; the folder of the same name holds
 * its code. Imports are dynamic so `bunker --help` loads none of them.
 */
const table: Record<PersonalityName, Omit<Personality, "name">> = {
  apid: { summary: "the API gateway: mTLS on TCP 50000, roles from client certificates, forwards to init", load: () => import("./apid/main.ts") },
  bunkerctl: { summary: "the remote client: generate configs, drive nodes through the API", load: () => import("./bunkerctl/main.ts") },
  dashboard: { summary: "the node's state on its console (tty1), refreshed: stage, network, load, services, logs", load: () => import("./dashboard/main.ts") },
  diag: { summary: "console diagnostics: links, addrs, routes (from the kernel)", load: () => import("./diag/main.ts") },
  "exec-helper": { summary: "internal: apply a service's credentials and limits, then exec it", load: () => import("./exec-helper/main.ts") },
  init: { summary: "the machine daemon: PID 1, services, boot sequence, resources, local API", load: () => import("./init/main.ts") },
  networkd: { summary: "links, addresses, routes, DHCP, hostname, resolvers and time from the machine config", load: () => import("./networkd/main.ts") },
  partition: { summary: "disks, the GPT and Bunker's disk layout: show, plan, apply, repair, grow", load: () => import("./partition/main.ts") },
  poweroff: { summary: "ask init to power the machine off", load: () => import("./poweroff/main.ts") },
  reboot: { summary: "ask init to reboot the machine", load: () => import("./reboot/main.ts") },
  shutdown: { summary: "ask init to shut the machine down (power off)", load: () => import("./shutdown/main.ts") },
  trustd: { summary: "sign the certificate requests of joining nodes (TCP 50001), token-authenticated", load: () => import("./trustd/main.ts") },
  "verify-image": { summary: "check an image folder against its signed manifest", load: () => import("./verify-image/main.ts") },
  version: { summary: "print the version, commit, Bun version and build time", load: () => import("./version/main.ts") },
};

export const personalities: Personality[] = personalityNames.map((name) => ({ name, ...table[name] }));

export function findPersonality(name: string): Personality | undefined {
  const real = builtName(name);
  return real && { name: real, ...table[real] };
}

export { aliases, planned };
