/** The resource kinds init owns, and their definitions for `get rd` and `get <alias>`. */
import { definitionOfDefinitions, registerDefinition, type Kind, type ResourceDefinition, type Store } from "../../core/resources/index.ts";
import { TRUSTD_DEFINITION, TRUSTD_NODES_DEFINITION } from "../../core/api/trustdstatus.ts";
import type { MachineConfig } from "../../core/config/config.ts";
import { HOSTNAME_STATUS, NETWORK_DEFINITIONS, type HostnameStatusSpec } from "../../core/netresources/kinds.ts";

export const MACHINE_CONFIG = { namespace: "config", type: "MachineConfigs.config.bunker.dev", id: "v1alpha1" };
export const MACHINE_STATUS = { namespace: "runtime", type: "MachineStatuses.runtime.bunker.dev", id: "machine" };
/** The stage the sequences set; MachineStatus is derived from it by a controller. */
export const MACHINE_STAGE = { namespace: "runtime", type: "MachineStages.runtime.bunker.dev", id: "machine" };
export const SERVICES: Kind = { namespace: "runtime", type: "Services.runtime.bunker.dev" };
export const EVENTS: Kind = { namespace: "runtime", type: "Events.runtime.bunker.dev" };
export const SEQUENCES: Kind = { namespace: "runtime", type: "Sequences.runtime.bunker.dev" };
/** init's own counters (pid, mode, orphans reaped, controller runs), refreshed every second. */
export const INIT_STATUS = { namespace: "runtime", type: "InitStatuses.runtime.bunker.dev", id: "init" };
/** Where this boot came from: the install disk and slot, the image's version, where the state lives. */
export const BOOT_STATUS = { namespace: "runtime", type: "BootStatuses.runtime.bunker.dev", id: "boot" };
/** The certificate apid serves: who signed it, until when, and on a worker why trustd has not signed. */
export const API_CERT_STATUS = { namespace: "runtime", type: "ApiCertificateStatuses.runtime.bunker.dev", id: "apid" };
/** This node's etcd: waiting, bootstrapping, joining, a member; and why not further (MachineStatus's `etcd` condition). */
export const ETCD_STATUS = { namespace: "runtime", type: "EtcdStatuses.runtime.bunker.dev", id: "etcd" };
/** The etcd members as this node's etcd sees them, with each one's status (leader, raft index, db size). */
export const ETCD_MEMBERS = { namespace: "runtime", type: "EtcdMembers.runtime.bunker.dev" };
/** Each log destination of machine.logging: connected, records sent, dropped and queued, the last error. */
export const LOG_DESTINATIONS: Kind = { namespace: "runtime", type: "LogDestinationStatuses.runtime.bunker.dev" };
/** The node's hostname, as init sets it (the network kinds are in core/netresources). */
export const HOSTNAME = HOSTNAME_STATUS;

export type Stage = "booting" | "maintenance" | "running" | "rebooting" | "shutting down" | "resetting" | "upgrading";

export interface MachineConfigSpec {
  /** The YAML text as applied. */
  raw: string;
  /** The checked document, typed (defaults filled in); secrets redacted in the published resource. */
  config: MachineConfig;
  /** Where it came from: a path, a URL, "api" or "state". */
  source: string;
  /** What loadConfig warned about (SOURCE:LINE:COLUMN: PATH: what). */
  warnings?: string[];
}
export interface MachineStageSpec {
  stage: Stage;
  /** Why the boot config was refused, if it was. */
  configError?: string;
  /** Why the install from machine.install was refused, if it was. */
  installError?: string;
}
export interface MachineStatusSpec { stage: Stage; ready: boolean; unmetConditions: { name: string; reason: string }[] }
/** source: "config", "default", or the layer of networkd's HostnameSpec (dhcp, cmdline, ...). */
export type HostnameSpec = HostnameStatusSpec;
export interface InitStatusSpec {
  pid: number;
  mode: "metal" | "container";
  reaped: number;
  controllers: { name: string; runs: number; failures: number; lastError?: string }[];
  sequence: string | null;
}
export interface BootStatusSpec {
  /** Booted from an installed disk (bunker.slot= on the kernel command line). */
  installed: boolean;
  disk: string;
  /** The slot this boot runs from, "" when not installed. */
  slot: string;
  /** This boot is the one-shot trial of an upgrade (bunker.trial=1). */
  trial: boolean;
  /** The version of the running image (its signed root manifest), "" when not known. */
  image: string;
  /** Where the saved config lives: "disk" (STATE), "memory" (tmpfs: lost at reboot) or "folder" (container mode). */
  state: "disk" | "memory" | "folder";
  /** What init made of this boot on the disk: confirmed, fell back, or why it could not tell. */
  confirmation: string;
}
export interface ApiCertStatusSpec {
  mode: "maintenance" | "controlplane" | "worker";
  signer: "cluster CA (this node)" | "trustd" | "self-signed";
  /** ISO time the served certificate expires. */
  notAfter: string;
  /** Worker: the trustd that signed it (host:port). */
  from?: string;
  /** Worker: why the last request to trustd failed (each control plane tried, what it said). */
  error?: string;
}
export interface EtcdStatusSpec {
  /** skipped: not a control plane or no etcd; waiting: no member to join yet (bootstrap one); joining; member. */
  phase: "skipped" | "waiting" | "bootstrapping" | "joining" | "member";
  /** What it is doing or why it is stuck, e.g. which control planes were asked and what they said. */
  message: string;
  /** Set while the node should be a member and is not (yet): MachineStatus shows it as the `etcd` condition. */
  unmet?: string;
  /** Its member id in hex, as etcdctl prints it, once added. */
  memberId?: string;
  clientURL?: string;
  peerURL?: string;
}
export interface EtcdMemberSpec {
  /** Hex, as etcdctl prints it. */
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  learner: boolean;
  started: boolean;
  leader: boolean;
  /** From the member's own status (empty when it did not answer; then `error` says why). */
  raftIndex: string;
  raftTerm: string;
  dbSize: number;
  version: string;
  /** The etcd alarms raised on this member (NOSPACE, CORRUPT); none while all is well. */
  alarms?: string[];
  error?: string;
}
export interface EventSpec { time: string; source: string; message: string; data?: Record<string, unknown> }
export interface SequenceSpec {
  state: "running" | "done" | "failed" | "aborted";
  phase: string;
  phases: { name: string; state: string; tasks: { name: string; state: string; error?: string }[] }[];
  started: string;
  finished?: string;
  error?: string;
}

const defs: ResourceDefinition[] = [
  definitionOfDefinitions,
  { type: MACHINE_CONFIG.type, aliases: ["mc", "machineconfig", "machineconfigs"], namespace: "config", columns: [{ name: "SOURCE", path: "spec.source" }], sensitive: true },
  { type: MACHINE_STATUS.type, aliases: ["machinestatus"], namespace: "runtime", columns: [{ name: "STAGE", path: "spec.stage" }, { name: "READY", path: "spec.ready" }] },
  { type: MACHINE_STAGE.type, aliases: ["machinestage"], namespace: "runtime", columns: [{ name: "STAGE", path: "spec.stage" }] },
  { type: SERVICES.type, aliases: ["svc", "service"], namespace: "runtime", columns: [{ name: "STATE", path: "spec.state" }, { name: "HEALTHY", path: "spec.healthy" }, { name: "RESTARTS", path: "spec.restarts" }] },
  { type: EVENTS.type, aliases: ["event", "ev"], namespace: "runtime", columns: [{ name: "SOURCE", path: "spec.source" }, { name: "MESSAGE", path: "spec.message" }] },
  { type: SEQUENCES.type, aliases: ["sequence", "seq"], namespace: "runtime", columns: [{ name: "STATE", path: "spec.state" }, { name: "PHASE", path: "spec.phase" }] },
  { type: BOOT_STATUS.type, aliases: ["bootstatus", "boot"], namespace: "runtime", columns: [{ name: "SLOT", path: "spec.slot" }, { name: "IMAGE", path: "spec.image" }, { name: "STATE", path: "spec.state" }] },
  { type: INIT_STATUS.type, aliases: ["initstatus"], namespace: "runtime", columns: [{ name: "PID", path: "spec.pid" }, { name: "REAPED", path: "spec.reaped" }] },
  { type: API_CERT_STATUS.type, aliases: ["apicertificate", "apicert"], namespace: "runtime", columns: [{ name: "SIGNER", path: "spec.signer" }, { name: "NOT-AFTER", path: "spec.notAfter" }, { name: "ERROR", path: "spec.error" }] },
  { type: ETCD_STATUS.type, aliases: ["etcdstatus"], namespace: "runtime", columns: [{ name: "PHASE", path: "spec.phase" }, { name: "MEMBER", path: "spec.memberId" }, { name: "MESSAGE", path: "spec.message" }] },
  { type: ETCD_MEMBERS.type, aliases: ["etcdmember", "etcdmembers"], namespace: "runtime", columns: [{ name: "NAME", path: "spec.name" }, { name: "LEARNER", path: "spec.learner" }, { name: "LEADER", path: "spec.leader" }, { name: "RAFT-INDEX", path: "spec.raftIndex" }, { name: "DB-SIZE", path: "spec.dbSize" }, { name: "PEER", path: "spec.peerURLs" }] },
  { type: LOG_DESTINATIONS.type, aliases: ["logdestination", "logdestinations", "logdest"], namespace: "runtime", columns: [{ name: "CONNECTED", path: "spec.connected" }, { name: "SENT", path: "spec.sent" }, { name: "DROPPED", path: "spec.dropped" }, { name: "QUEUED", path: "spec.queued" }, { name: "ERROR", path: "spec.lastError" }] },
  TRUSTD_DEFINITION, TRUSTD_NODES_DEFINITION,
  ...NETWORK_DEFINITIONS,
];

export function registerInitDefinitions(store: Store): void {
  for (const d of defs) registerDefinition(store, d);
}
