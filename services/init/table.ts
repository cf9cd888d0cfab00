/**
 * The services init runs, declared as data. The personalities they start may not be built into
 * this binary yet; such a service is Skipped with the reason rather than failing. apid is
 * declared apart (apid.ts): its arguments and certificates depend on the machine's config.
 */
import type { Store } from "../../core/resources/index.ts";
import { findPersonality } from "../personalities.ts";
import { resourcePresent } from "./conditions.ts";
import { selfCommand } from "./children.ts";
import { MACHINE_CONFIG } from "./resources.ts";
import type { ServiceSpec } from "./service.ts";

function personalitySkip(name: string): () => string | undefined {
  return () => (findPersonality(name) ? undefined : `personality ${name} is not built into this binary`);
}

// A service runs this binary with argv0 naming its personality (what `ps` shows); the dispatcher
// picks the personality from argv0, so the name is not repeated among the arguments.
export function serviceTable(store: Store): ServiceSpec[] {
  const configured = resourcePresent(store, MACHINE_CONFIG, undefined, "machine config applied");
  const self = selfCommand();
  return [
    {
      id: "networkd", description: "links, addresses, routes, DHCP, hostname, resolvers, time",
      skip: personalitySkip("networkd"),
      runner: { argv: [...self], argv0: "networkd", noNewPrivs: true, oomScoreAdj: -900,
        capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"] },
      stopGraceMs: 10_000,
    },
    {
      id: "trustd", description: "signs certificate requests of joining nodes on TCP 50001",
      dependsOn: ["networkd"], conditions: [configured], skip: personalitySkip("trustd"),
      runner: { argv: [...self], argv0: "trustd", uid: 51, gid: 51, noNewPrivs: true, capabilities: [], oomScoreAdj: -998 },
    },
    {
      id: "dashboard", description: "the console dashboard",
      skip: personalitySkip("dashboard"),
      runner: { argv: [...self], argv0: "dashboard", noNewPrivs: true, capabilities: [], oomScoreAdj: -400 },
    },
  ];
}
