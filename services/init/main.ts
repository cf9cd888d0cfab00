/**
 * `init`: the machine daemon. As PID 1 on a node (mode metal) it sets up the system, supervises
 * the services and never exits; on a host (mode container) it runs the same sequencer,
 * supervisor, store and API without touching the host, and ends with a documented exit code
 * where a node would power off or reboot.
 */
import { parseCli } from "../cli.ts";
import { join, resolve } from "node:path";
import { serveApi } from "./api/server.ts";
import { createHandlers } from "./api/handlers.ts";
import { DEFAULT_NODE_SOCKET } from "./api/socket.ts";
import type { GrpcServer } from "../../core/grpc/server.ts";
import { errText, log, logToKernel } from "./log.ts";
import { watchBanner } from "./banner.ts";
import { APID_UID } from "./apid.ts";
import { DASHBOARD_UID } from "./table.ts";
import { TRUSTD_UID } from "./trustd.ts";
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, ETCD_UID } from "./etcd.ts";
import { mountExtension, releaseExtension } from "./rootfs/extensions.ts";
import { ETCD_EXTENSION } from "../../core/image/layout.ts";
import { EXIT, Machine, type MachineOptions, type PowerRequest } from "./machine.ts";
import { powerAction } from "./pid1.ts";
import { existsSync, readFileSync } from "node:fs";
import { bootedSlot, confirmBoot, findInstallDisk } from "./bootslot.ts";
import { IMAGE_PUBLIC_KEY } from "../../core/image/layout.ts";
import { verifiedRoot } from "./rootfs/verified-root.ts";
import type { KeyObject } from "node:crypto";
import { parsePublicKey } from "../../core/image/manifest.ts";
import { isSlot, type Slot } from "../../core/install/grub.ts";
import type { SequenceName } from "./sequencer.ts";
import { setChildSubreaper } from "../../core/sys/process.ts";
import { ServiceAccessError } from "./access.ts";
import { netnsOwner } from "../../core/sys/netns.ts";

const HELP = `Usage: bunker init [--mode=metal|container] [--state-dir DIR] [--config FILE]
                   [--api-listen HOST:PORT] [--trustd-listen HOST:PORT] [--trustd-port PORT]
                   [--etcd-client-port PORT] [--etcd-peer-port PORT] [--services FILE] [--no-table]

The machine daemon: boot sequence, service supervisor, resource store and the local API.

  --mode metal       PID 1 on a node (the default as PID 1): mounts /run, /tmp, /system,
                     cgroup2, applies sysctls and rlimits, reaps orphans, reboots/powers off.
  --mode container   an ordinary process on a host: nothing mounted, no power syscalls.
  --state-dir DIR    container mode: where the saved config and init.sock live (required).
  --config FILE      the machine config to boot with (else bunker.config=URL on the kernel
                     command line, else the saved copy, else maintenance mode).
  --api-listen HOST:PORT
                     where apid serves the API over mTLS (default 0.0.0.0:50000 on a node; in
                     container mode apid runs only with this flag, as uid 50 under root, else as
                     the current user).
  --trustd-listen HOST:PORT
                     where trustd signs joining nodes' certificate requests on a control plane
                     (default 0.0.0.0:50001 on a node; in container mode trustd runs only with
                     this flag, as uid 51 under root, else as the current user).
  --trustd-port PORT container mode: the port a worker asks trustd on, at its cluster endpoint's
                     host (default 50001, as on a node).
  --etcd-client-port PORT, --etcd-peer-port PORT
                     container mode: etcd's ports on the node's address (default 2379 and 2380,
                     as on a node). etcd runs on control planes only, once bootstrapped or
                     joining; in container mode only with --trustd-listen (a control plane) or
                     these flags, as uid 54 under root, from the host's /usr/bin/etcd, with its
                     data under DIR/etcd (a node: /var/lib/etcd).
  --cert-lifetime SECONDS
                     container mode: lifetime of apid's certificates (default 24 h; renewed at
                     half-life), and of those trustd signs, so tests can watch a renewal.
  --services FILE    container mode: extra services to run (YAML/JSON list), for tests.
  --no-table         container mode: leave out the built-in service table.
  --manage-network   container mode: networkd configures links, addresses, routes and DHCP, for
                     a node started in a network namespace of its own (ip netns exec). Without
                     it networkd only observes: the namespace may be the host's. Refused where
                     the namespace is known to be the host's.
  --disk PATH --slot A|B
                     container mode: act as if booted from slot A or B of the installed disk
                     (or disk image file) PATH: Upgrade, Rollback and Reset work on it.
  --trial            container mode, with --disk: act as an upgrade's trial boot (bunker.trial=1):
                     the boot deadline (machine.install.bootDeadline) kills init when the boot
                     is not ready in time (a node reboots into the other slot instead).
  --install-disk PATH
                     container mode: act as a node booted from an ISO whose config asks for an
                     install (machine.install): install to PATH (a disk image file) instead of
                     the config's disk, then reboot (exit ${EXIT.reboot}). A node does this by itself
                     when booted without bunker.slot= on its command line.
  --boot-medium FILE container mode, with --install-disk: the ISO file standing in for the
                     medium the node booted from, which an empty machine.install.image installs
                     from (a node finds its ISO by itself).
  --image-key FILE   container mode: the public key upgrade images must be signed with
                     (image.pub of a build); a node uses its initramfs's etc/bunker/image.pub.

Signals: SIGTERM and SIGPWR shut down, SIGINT (ctrl-alt-del on a node) reboots.
Container-mode exit codes: ${EXIT.reboot} reboot, ${EXIT.poweroff} poweroff/shutdown, ${EXIT.fatal} fatal error (after 10 s),
2 a bad command line or a state dir a service's uid cannot reach (what to change is logged).
The API socket: ${DEFAULT_NODE_SOCKET} on a node, DIR/init.sock in container mode.`;

/** How long a power action waits for the API's last answers to leave. */
const POWER_GRACE_MS = 250;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli("init", argv, HELP, {
    mode: { type: "string" }, "state-dir": { type: "string" }, config: { type: "string" },
    services: { type: "string" }, "no-table": { type: "boolean" }, "manage-network": { type: "boolean" },
    "api-listen": { type: "string" }, "cert-lifetime": { type: "string" },
    "trustd-listen": { type: "string" }, "trustd-port": { type: "string" },
    "etcd-client-port": { type: "string" }, "etcd-peer-port": { type: "string" },
    disk: { type: "string" }, slot: { type: "string" }, "image-key": { type: "string" }, "install-disk": { type: "string" }, trial: { type: "boolean" }, "boot-medium": { type: "string" },
    // Test hooks (container mode only): "controller" adds a controller that always throws,
    // "uncaught" throws an uncaught error shortly after boot, "hang-before-ready" blocks
    // the boot sequence for good before the slot is confirmed.
    "inject-fault": { type: "string", multiple: true },
  });
  if (typeof parsed === "number") return parsed;
  const args = parsed.values;
  const mode = args.mode ?? (process.pid === 1 ? "metal" : undefined);
  if (mode !== "metal" && mode !== "container") {
    console.error(`init: --mode must be metal or container${mode === undefined ? " (metal only as PID 1)" : `, not "${mode}"`}`);
    return 2;
  }
  if (mode === "metal" && process.pid !== 1) { console.error("init: --mode=metal runs only as PID 1; use --mode=container on a host"); return 2; }
  if (mode === "container" && !args["state-dir"]) { console.error("init: --mode=container needs --state-dir DIR"); return 2; }
  if (args["manage-network"] && mode === "container" && netnsOwner() === "host") {
    console.error("init: --manage-network in the host's network namespace would let networkd take the host's addresses and routes; start the node in a namespace of its own (ip netns exec NAME bunker init ...)");
    return 2;
  }
  const faults = args["inject-fault"] ?? [];
  for (const f of faults) if (f !== "controller" && f !== "uncaught" && f !== "hang-before-ready") { console.error(`init: --inject-fault ${f}: expected controller, uncaught or hang-before-ready`); return 2; }
  if (mode === "metal" && (args.services || args["no-table"] || args["manage-network"] || faults.length || args["cert-lifetime"] || args.disk || args.slot || args.trial || args["boot-medium"] || args["image-key"] || args["install-disk"] || args["trustd-listen"] || args["trustd-port"] || args["etcd-client-port"] || args["etcd-peer-port"])) {
    console.error("init: --trustd-listen, --trustd-port, --etcd-client-port, --etcd-peer-port, --services, --no-table, --manage-network, --cert-lifetime, --disk, --slot, --trial, --image-key, --install-disk, --boot-medium and test hooks are for container mode only");
    return 2;
  }

  const listen = args["api-listen"] ?? (mode === "metal" ? "0.0.0.0:50000" : undefined);
  if (listen !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(listen)) {
    console.error(`init: --api-listen ${JSON.stringify(listen)}: expected HOST:PORT (IPv6 as [::1]:PORT)`);
    return 2;
  }
  const trustdListen = args["trustd-listen"] ?? (mode === "metal" ? "0.0.0.0:50001" : undefined);
  if (trustdListen !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(trustdListen)) {
    console.error(`init: --trustd-listen ${JSON.stringify(trustdListen)}: expected HOST:PORT (IPv6 as [::1]:PORT)`);
    return 2;
  }
  const trustdPort = args["trustd-port"] === undefined ? undefined : Number(args["trustd-port"]);
  if (trustdPort !== undefined && !(Number.isInteger(trustdPort) && trustdPort > 0 && trustdPort < 65536)) {
    console.error(`init: --trustd-port ${args["trustd-port"]}: expected a port number`);
    return 2;
  }
  const etcdPorts: number[] = [];
  for (const f of ["etcd-client-port", "etcd-peer-port"] as const) {
    const v = args[f] === undefined ? (f === "etcd-client-port" ? ETCD_CLIENT_PORT : ETCD_PEER_PORT) : Number(args[f]);
    if (!(Number.isInteger(v) && v > 0 && v < 65536)) { console.error(`init: --${f} ${args[f]}: expected a port number`); return 2; }
    etcdPorts.push(v);
  }
  const lifetimeS = args["cert-lifetime"] === undefined ? undefined : Number(args["cert-lifetime"]);
  if (lifetimeS !== undefined && !(lifetimeS >= 2)) { console.error(`init: --cert-lifetime ${args["cert-lifetime"]}: expected seconds (at least 2)`); return 2; }
  // apid is unprivileged: uid 50 whenever init may switch users; as init's own user otherwise.
  const apidUid = process.getuid?.() === 0 ? APID_UID : undefined;
  const trustdUid = process.getuid?.() === 0 ? TRUSTD_UID : undefined;

  if ((args.disk === undefined) !== (args.slot === undefined) || (args.slot !== undefined && !isSlot(args.slot))) {
    console.error("init: --disk PATH and --slot A|B go together");
    return 2;
  }
  if (args["install-disk"] !== undefined && args.disk !== undefined) {
    console.error("init: --install-disk is for a node not yet installed; not with --disk/--slot");
    return 2;
  }
  let imageKey: KeyObject | undefined;
  try {
    if (args["image-key"]) imageKey = parsePublicKey(readFileSync(args["image-key"], "utf8"));
  } catch (err) {
    console.error(`init: --image-key ${args["image-key"]}: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }

  if (mode === "metal") logToKernel();
  // The image's key lives in the verified root (the pre-init shim switched into it already).
  if (mode === "metal" && existsSync(`/${IMAGE_PUBLIC_KEY}`)) {
    try { imageKey = parsePublicKey(readFileSync(`/${IMAGE_PUBLIC_KEY}`, "utf8")); } catch (err) { log.warn(`image key /${IMAGE_PUBLIC_KEY}: ${errText(err)}; upgrades will be refused`); }
  }
  let imageVersion: string | undefined;
  let imageSecurityVersion: number | undefined;
  // The pre-init shim started this binary from the dm-verity root; check that, and read which
  // image it is. A root that is not the verified one stops the boot: nothing else vouches for it.
  if (mode === "metal") {
    try {
      const root = verifiedRoot();
      log.info(`rootfs: running on the verified root: ${root.device} (dm-verity), image ${root.version} security version ${root.securityVersion}`);
      imageVersion = root.version;
      imageSecurityVersion = root.securityVersion;
    } catch (err) {
      log.error(`rootfs: ${errText(err)}; rebooting in 10 s`);
      await Bun.sleep(10_000);
      powerAction("reboot");
      return new Promise<number>(() => {});
    }
  }
  const stateDir = mode === "metal" ? "/system/state" : resolve(args["state-dir"]!);
  const cmdline = mode === "metal" && existsSync("/proc/cmdline") ? readFileSync("/proc/cmdline", "utf8") : "";
  let install: MachineOptions["install"];
  if (args.disk !== undefined) install = { disk: resolve(args.disk), slot: args.slot as Slot };
  else if (mode === "metal" && bootedSlot(cmdline) !== null) {
    const disk = findInstallDisk();
    if (disk) install = { disk, slot: bootedSlot(cmdline)! };
    else log.error(`booted from slot ${bootedSlot(cmdline)} but no disk with Bunker's layout was found: the state stays in memory`);
  }
  const runDir = mode === "metal" ? "/system/run" : stateDir;
  let api: GrpcServer | undefined;

  const onPower = (action: PowerRequest) => {
    // The call that asked for this has been answered, but its last frames may still be queued:
    // give them a moment to leave before the process (or the machine) goes.
    setTimeout(() => {
      if (mode === "container") {
        void api?.close();
        process.exit(action === "reboot" ? EXIT.reboot : action === "poweroff" ? EXIT.poweroff : EXIT.fatal);
      }
      try {
        powerAction(action === "poweroff" ? "poweroff" : "reboot");
      } catch (err) {
        log.error(`power ${action} failed: ${errText(err)}`);
      }
    }, POWER_GRACE_MS);
  };

  const opts: MachineOptions = {
    mode, stateDir, runDir, configFile: args.config, servicesFile: args.services,
    install, stateOnDisk: mode === "metal", imageKey, imageVersion, imageSecurityVersion, trial: args.trial === true || /(?:^|\s)bunker\.trial=1(?:\s|$)/.test(cmdline),
    hangBeforeReady: faults.includes("hang-before-ready"),
    workDir: mode === "metal" ? "/run/bunker" : undefined,
    // Only a node not booted from an installed disk installs (never one whose disk was not found).
    installFromConfig: args["install-disk"] !== undefined ? resolve(args["install-disk"]) : mode === "metal" && bootedSlot(cmdline) === null,
    bootMedium: args["boot-medium"] !== undefined ? resolve(args["boot-medium"]) : undefined,
    noTable: args["no-table"], manageNetwork: args["manage-network"] === true,
    noDashboard: /(?:^|\s)bunker\.dashboard=0(?:\s|$)/.test(cmdline),
    api: listen === undefined ? undefined : { listen, uid: apidUid, gid: apidUid, certLifetimeMs: lifetimeS === undefined ? undefined : lifetimeS * 1000 },
    // trustd's gid is apid's (API_GROUP): the group of init's socket, where it publishes its status.
    trustd: trustdListen === undefined ? undefined : { listen: trustdListen, uid: trustdUid, gid: apidUid, lifetimeMs: lifetimeS === undefined ? undefined : lifetimeS * 1000 },
    trustdPort,
    etcd: mode === "metal" || trustdListen !== undefined || args["etcd-client-port"] !== undefined || args["etcd-peer-port"] !== undefined
      ? {
        dataDir: mode === "metal" ? "/var/lib/etcd" : join(stateDir, "etcd"), clientPort: etcdPorts[0], peerPort: etcdPorts[1], uid: process.getuid?.() === 0 ? ETCD_UID : undefined,
        // Only a node has the image's extension; container mode uses the host's etcd.
        extension: mode === "metal" ? { mount: () => mountExtension(ETCD_EXTENSION), release: () => releaseExtension(ETCD_EXTENSION) } : undefined,
      }
      : undefined,
    faultyController: faults.includes("controller"), onPower,
    startApi: async () => {
      const own = process.getuid?.() ?? 0;
      api = await serveApi({
        path: machine.socketPath, handlers: createHandlers(machine), onError: (m) => log.warn(m),
        trust: {
          adminUids: new Set([0, own]), apidUid: apidUid ?? own, maintenance: () => machine.maintenanceOpen(),
          service: (uid) => machine.serviceOfUid(uid),
          readerUids: new Set([DASHBOARD_UID]),
        },
        publisher: { store: machine.store, publishers: () => machine.publishers() },
        // apid's gid; networkd runs with it as its gid too (API_GROUP), so both may connect.
        socketGid: apidUid,
      });
      log.info(`api: serving on ${machine.socketPath}`);
    },
  };
  const machine = new Machine(opts);

  // PID 1 must never die of an error: log it, sync, and reboot after a delay instead.
  process.on("uncaughtException", (err) => machine.fatal(err));
  process.on("unhandledRejection", (err) => machine.fatal(err));

  const ask = (name: SequenceName) => () => {
    log.info(`signal: requesting ${name}`);
    machine.request(name).catch((err) => log.warn(`${name}: ${err instanceof Error ? err.message : String(err)}`));
  };
  process.on("SIGTERM", ask("shutdown"));
  process.on("SIGPWR", ask("shutdown"));
  process.on("SIGINT", ask("reboot"));

  // Outside PID 1, become the reaper of our services' orphans (PID 1 is one by definition).
  if (process.pid !== 1) {
    try { setChildSubreaper(); } catch (err) { log.warn(`cannot become a child subreaper: ${errText(err)}`); }
  }

  log.info(`init starting: mode ${mode}, pid ${process.pid}, state ${stateDir}`);
  // On a node the console is all an operator sees: say where the API is and what to do next.
  if (mode === "metal" && listen !== undefined) watchBanner(machine.store, listen, (line) => log.info(line), undefined, () => machine.apiCerts?.serverFingerprint());
  try {
    await machine.boot();
    log.info(`boot done: stage ${machine.stage()}`);
    if (mode === "metal" && !install) log.info(`boot slot: ${confirmBoot(cmdline, null).message}`);
  } catch (err) {
    // Container mode: services that could never start (their uid cannot reach the state dir) are
    // a setup to change, not a node to diagnose: say what to change and end.
    if (err instanceof ServiceAccessError) {
      log.error(`init: refusing to start: ${err.message}`);
      machine.stopBackground();
      return 2;
    }
    // A failed boot leaves the API up so the node can be diagnosed and fixed, not a dead end.
    log.error(`boot failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (faults.includes("uncaught")) setTimeout(() => { throw new Error("injected uncaught error (test hook)"); }, 100);
  // init ends only through a power action.
  return new Promise<number>(() => {});
}
