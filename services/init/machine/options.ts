/**
 * What a Machine is made of and answers with: its options (the mode, the folders, the services
 * beside the table, the install disk and image facts), the power requests it ends with, and the
 * refusal of what needs an installed disk. No state and no imports of its siblings, so every part of the
 * machine may import it without importing the machine.
 */
import type { KeyObject } from "node:crypto";
import type { EtcdOptions } from "../etcd/node.ts";
import type { Slot } from "../../../core/install/grub.ts";
import { BunkerError } from "../../../core/errors.ts";

export type Mode = "metal" | "container";
/** "fatal" is the reboot after an unrecoverable error (its own exit code in container mode). */
export type PowerRequest = "reboot" | "poweroff" | "fatal";

/** How init ends in container mode; a node reboots or powers off instead. */
export const EXIT = { poweroff: 11, reboot: 10, fatal: 12 } as const;

export interface MachineOptions {
  mode: Mode;
  /** Persistent state: the saved config. */
  stateDir: string;
  /** The API socket's folder. */
  runDir: string;
  configFile?: string;
  /** container mode: extra services from a file. */
  servicesFile?: string;
  /** container mode: leave out the built-in service table. */
  noTable?: boolean;
  /** Container mode: networkd may configure the network (the node has a namespace of its own). */
  manageNetwork?: boolean;
  /** `bunker.dashboard=0` on the kernel command line: no dashboard on tty1 (a VM nobody looks at). */
  noDashboard?: boolean;
  /** container mode test hook: a controller that always throws. */
  faultyController?: boolean;
  /** Serves the local API; called once the run directory exists (after the system phase). */
  startApi?: () => Promise<void> | void;
  /** Run apid (the TCP API) as a service: where it listens, as whom, and how long its certificates live. */
  api?: { listen: string; uid?: number; gid?: number; certLifetimeMs?: number };
  /** Run trustd (control planes only; skipped on a worker): where it listens, as whom, how long what it signs lives. */
  trustd?: { listen: string; uid?: number; gid?: number; lifetimeMs?: number };
  /** Worker: the port trustd listens on at the control planes (default 50001). */
  trustdPort?: number;
  /** Run etcd on a control plane (skipped on a worker and where no etcd binary is): its data, ports and uid. */
  etcd?: { dataDir: string; clientPort?: number; peerPort?: number; uid?: number; gid?: number; extension?: EtcdOptions["extension"] };
  /** Ends the machine: called after the shutdown/reboot sequence has stopped everything. */
  onPower: (action: PowerRequest) => void;
  /**
   * The install disk and the slot this boot runs from (bunker.slot= on a node; flags in container
   * mode). Without it Upgrade, Rollback and volume wipes are refused: there is no disk to act on.
   */
  install?: { disk: string; slot: Slot };
  /** metal: keep the state dir on the install disk's STATE volume (mounted at boot). */
  stateOnDisk?: boolean;
  /** The key an upgrade image's manifest must be signed with (the running image's own). */
  imageKey?: KeyObject;
  /** Where upgrades download to and volumes are mounted for a while (a tmpfs on a node). */
  workDir?: string;
  /** The running image's version (its signed root manifest), for the BootStatus resource. */
  imageVersion?: string;
  /**
   * The running image's security version (its signed root manifest): once this boot is
   * confirmed, META's anti-rollback floor rises to it. Unset: the floor is left alone.
   */
  imageSecurityVersion?: number;
  /** This boot is an upgrade's trial (bunker.trial=1): a boot deadline is armed until ready. */
  trial?: boolean;
  /** container mode test hook: the boot sequence blocks its thread for good before the slot is confirmed. */
  hangBeforeReady?: boolean;
  /**
   * May install itself on the disk of machine.install (a node booted from an ISO or the network).
   * A string: container mode's stand-in for that disk (a disk image file).
   */
  installFromConfig?: boolean | string;
  /**
   * The boot medium an empty machine.install.image installs from: a node looks for Bunker's
   * ISO (bootmedium.ts) when this is undefined; a string is container mode's stand-in (an ISO
   * file), null: none.
   */
  bootMedium?: string | null;
}

/** Why Upgrade and Rollback are refused on a node not booted from an installed disk. */
export const NOT_INSTALLED = "this node was not booted from an installed disk (no bunker.slot= on the kernel command line): there is no inactive slot to write or to roll back to; install it first (machine.install.disk, or bunker partition install)";

/** The install disk and the slot this boot runs from; refuses (failed_precondition) where there is none. */
export function installedDisk(opts: Pick<MachineOptions, "install">): { disk: string; slot: Slot } {
  if (!opts.install) throw new BunkerError("failed_precondition", NOT_INSTALLED);
  return opts.install;
}
