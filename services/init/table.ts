/**
 * The services init runs, declared as data. The personalities they start may not be built into
 * this binary yet; such a service is Skipped with the reason rather than failing. apid and trustd
 * are declared apart (apid.ts, trustd.ts): their arguments and secrets depend on the machine's config.
 */
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import type { Store } from "../../core/resources/index.ts";
import { NETWORK_CONFIGS, NETWORKD_KINDS } from "../../core/netresources/kinds.ts";
import { builtName } from "../names.ts";
import { APID_UID } from "./apid.ts";
import { selfCommand } from "../../core/sys/self.ts";
import type { ServiceSpec } from "./service.ts";

function personalitySkip(name: string): () => string | undefined {
  return () => (builtName(name) ? undefined : `personality ${name} is not built into this binary`);
}

/** networkd's own uid: init knows its writes (ResourcePublisher) by it. */
export const NETWORKD_UID = 52;
/**
 * The group of init's socket (mode 0660): the services that talk to init run with it as their
 * gid (apid's own gid; exec-helper clears supplementary groups, so it has to be the primary one).
 */
export const API_GROUP = APID_UID;

/** The dashboard's uid (`dashboard` in the image's passwd): init's socket grants it os:reader. */
export const DASHBOARD_UID = 53;
/**
 * The dashboard's screen: the first virtual console. The kernel's and init's lines go to
 * /dev/console (the serial port, the last `console=`), and the kernel echoes only errors to the
 * screen (init lowers the console log level), so tty1 is the dashboard's and the serial console
 * keeps init's log and the banner.
 */
export const DASHBOARD_TTY = "/dev/tty1";

export interface TableContext {
  mode: "metal" | "container";
  /** init's API socket, which networkd watches its config on and publishes to. */
  socketPath: string;
  /** networkd's writable directory (resolv.conf, hosts, status): /run/network on a node. */
  networkStateDir: string;
  /** Container mode: networkd configures the network (a namespace of the node's own), or only observes it. */
  manageNetwork?: boolean;
  /** The kernel command line said `bunker.dashboard=0`. */
  noDashboard?: boolean;
}

export function serviceTable(store: Store, t: TableContext): ServiceSpec[] {

// A service runs this binary with argv0 naming its personality (what `ps` shows); the dispatcher
// picks the personality from argv0, so the name is not repeated among the arguments.
  const self = selfCommand();
  const root = process.getuid?.() === 0;
  return [
    {
      id: "networkd", description: "links, addresses, routes, DHCP, resolvers, time; the hostname it wants, init sets",
      skip: () => personalitySkip("networkd")() ?? (root ? undefined : "networkd needs init to run as root (to start it as its own uid with its capabilities)"),
      // Its directory must be its own: it runs as NETWORKD_UID.
      preStart: () => {
        mkdirSync(t.networkStateDir, { recursive: true, mode: 0o755 });
        chownSync(t.networkStateDir, NETWORKD_UID, API_GROUP);
      },
      runner: {
        // Container mode never moves the host's clock (it is not namespaced), and the host's
        // kernel command line is not the emulated node's.
        // A container-mode node only observes the network unless told it has a namespace of its
        // own (--manage-network): in the host's, DHCP on the host's links and removing addresses
        // networkd did not make would take the host's network away.
        argv: [...self, "--init-socket", t.socketPath, "--state-dir", t.networkStateDir,
          ...(t.mode === "container" ? ["--no-time", "--cmdline", "/dev/null", ...(t.manageNetwork ? [] : ["--observe"])] : [])],
        argv0: "networkd", uid: NETWORKD_UID, gid: API_GROUP, noNewPrivs: true,
        // A host process's OOM preference is the host's business (and lowering it needs
        // CAP_SYS_RESOURCE, which containers often lack): only a node sets it.
        ...(t.mode === "metal" ? { oomScoreAdj: -900 } : {}),
        // No CAP_SYS_ADMIN: init sets the hostname from networkd's HostnameSpec.
        capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"],
      },
      publishes: NETWORKD_KINDS,
      reads: [NETWORK_CONFIGS],
      stopGraceMs: 10_000,
    },
    {
      id: "dashboard", description: "the node's state on its screen (tty1)",
      // Its refreshes are most of what an idle node does (bench/results/idle.md): a screen that no
      // one sees (a VM started with no display) can be turned off.
      skip: () => personalitySkip("dashboard")() ?? (t.mode === "container"
        ? "container mode has no screen of its own: run `bunker dashboard --socket SOCKET` in a terminal"
        : t.noDashboard ? "turned off on the kernel command line (bunker.dashboard=0)"
        : existsSync(DASHBOARD_TTY) ? undefined : `no ${DASHBOARD_TTY}: this kernel has no virtual console`),
      // Its own uid and no capabilities: the terminal is handed to it, and it may only read.
      preStart: () => {
        chownSync(DASHBOARD_TTY, DASHBOARD_UID, API_GROUP);
        chmodSync(DASHBOARD_TTY, 0o600);
      },
      runner: {
        argv: [...self, "--tty", DASHBOARD_TTY, "--socket", t.socketPath],
        argv0: "dashboard", uid: DASHBOARD_UID, gid: API_GROUP, noNewPrivs: true, capabilities: [], oomScoreAdj: -400,
      },
      // A display, not a duty: bounded like apid, so a leak in it never costs what the node runs.
      memoryMax: 256 * 1024 * 1024,
    },
  ];
}
