/**
 * init's controllers: MachineStatus from the stage, config, services and network; the hostname
 * from the config or networkd's HostnameSpec; NetworkConfig (what networkd may read) from the
 * config; NetworkStatus (network online) from what networkd publishes.
 */
import type { Controller } from "../../core/resources/index.ts";
import {
  ADDRESS_STATUSES, HOSTNAME_SPEC, HOSTNAME_SPECS, LINK_STATUSES, NETWORK_CONFIG, NETWORK_CONFIGS, NETWORK_STATUS, NETWORK_STATUSES,
  ROUTE_STATUSES, TIME_STATUS, TIME_STATUSES,
  type AddressStatusSpec, type HostnameSpecSpec, type LinkStatusSpec, type NetworkConfigSpec, type NetworkStatusSpec,
  type RouteStatusSpec, type TimeStatusSpec,
} from "../../core/netresources/kinds.ts";
import {
  API_CERT_STATUS, ETCD_STATUS, HOSTNAME, MACHINE_CONFIG, MACHINE_STAGE, MACHINE_STATUS, SERVICES,
  type ApiCertStatusSpec, type EtcdStatusSpec, type HostnameSpec, type MachineConfigSpec, type MachineStageSpec, type MachineStatusSpec,
} from "./resources.ts";
import type { ServiceStatus } from "./service.ts";
import { pickHostname } from "../../core/netresources/hostname.ts";

const kindOf = (r: { namespace: string; type: string }) => ({ namespace: r.namespace, type: r.type });

/** A service counts as up when running (and healthy if it has a check), skipped or cleanly done. */
function serviceUp(s: ServiceStatus): boolean {
  if (s.state === "Skipped") return true;
  if (s.state === "Running") return s.healthy !== false;
  return s.state === "Finished" && s.lastExit?.code === 0;
}

/** "; last exit: code 1 at TIME: its last line", for an exit with an error; "" otherwise. */
function exitReason(e: ServiceStatus["lastExit"]): string {
  if (!e || (e.code === 0 && !e.signal)) return "";
  const line = e.output?.at(-1);
  return `; last exit: ${e.signal ? `killed by ${e.signal}` : `code ${e.code}`} at ${e.time}${line ? `: ${line}` : ""}`;
}

/** The service whose resources the network conditions come from. */
export const NETWORK_SERVICE = "networkd";

export const machineStatusController: Controller = {
  name: "machine-status",
  inputs: [kindOf(MACHINE_STAGE), kindOf(MACHINE_CONFIG), SERVICES, NETWORK_STATUSES, TIME_STATUSES, kindOf(API_CERT_STATUS), kindOf(ETCD_STATUS)],
  outputs: [MACHINE_STATUS.type],
  reconcile(ctx) {
    const stageSpec = ctx.get<MachineStageSpec>(MACHINE_STAGE)?.spec;
    const stage = stageSpec?.stage ?? "booting";
    const unmet: MachineStatusSpec["unmetConditions"] = [];
    if (!ctx.get(MACHINE_CONFIG)) {
      unmet.push({ name: "config", reason: stageSpec?.configError ?? "no machine config: waiting in maintenance mode for apply-config" });
    }
    if (stageSpec?.installError) unmet.push({ name: "install", reason: stageSpec.installError });
    for (const s of ctx.list<ServiceStatus>(SERVICES)) {
      if (!serviceUp(s.spec)) {
        const last = s.spec.events.at(-1)?.message ?? "";
        unmet.push({ name: `service ${s.metadata.id}`, reason: `${s.spec.state}${s.spec.healthy === false ? " (unhealthy)" : ""}${last ? `: ${last}` : ""}${exitReason(s.spec.lastExit)}` });
      }
    }
    // Network and time count only where networkd runs (not in a container-mode init without it).
    const networkd = ctx.get<ServiceStatus>({ ...SERVICES, id: NETWORK_SERVICE })?.spec;
    if (networkd && networkd.state !== "Skipped") {
      const net = ctx.get<NetworkStatusSpec>(NETWORK_STATUS)?.spec;
      if (!net?.online) unmet.push({ name: "network", reason: net?.reason ?? "networkd has not published its status yet" });
      const time = ctx.get<TimeStatusSpec>(TIME_STATUS)?.spec;
      if (!time) unmet.push({ name: "time", reason: "networkd has not published the time status yet" });
      else if (!time.synced && !time.disabled) unmet.push({ name: "time", reason: `not synchronised${time.lastError ? `: ${time.lastError}` : ""}` });
    }
    // A worker trustd has not signed for: apid serves, but no one can verify it.
    const cert = ctx.get<ApiCertStatusSpec>(API_CERT_STATUS)?.spec;
    if (cert?.error) unmet.push({ name: "apid certificate", reason: cert.error });
    // A control plane that should be an etcd member and is not yet (joining, or stuck joining).
    const etcd = ctx.get<EtcdStatusSpec>(ETCD_STATUS)?.spec;
    if (etcd?.unmet) unmet.push({ name: "etcd", reason: etcd.unmet });
    if (stage !== "running") unmet.unshift({ name: "stage", reason: `stage is ${stage}` });
    ctx.modify<MachineStatusSpec>(MACHINE_STATUS, () => ({ stage, ready: unmet.length === 0, unmetConditions: unmet }));
  },
};

/**
 * The hostname, by core/netresources/hostname.ts's rule: machine.network.hostname, else the DHCP
 * or cmdline name networkd found, else `defaultName`. networkd's own default (from a MAC) is not
 * taken: init's is the node's name from boot on, and must not change when networkd first
 * publishes. `apply` sets it in the kernel (only as PID 1 on a node): init does it so networkd
 * needs no CAP_SYS_ADMIN.
 */
export function hostnameController(defaultName: string, apply?: (h: HostnameSpec) => void): Controller {
  return {
    name: "hostname",
    inputs: [kindOf(MACHINE_CONFIG), HOSTNAME_SPECS],
    outputs: [HOSTNAME.type],
    reconcile(ctx) {
      const wanted = ctx.get<HostnameSpecSpec>(HOSTNAME_SPEC)?.spec;
      const found = wanted?.hostname ? wanted : undefined;
      const choice = pickHostname({
        config: ctx.get<MachineConfigSpec>(MACHINE_CONFIG)?.spec.config.machine.network.hostname,
        dhcp: found?.layer === "dhcp" ? { name: found.hostname, domain: found.domain } : undefined,
        cmdline: found?.layer === "cmdline" ? found.hostname : undefined,
        fallback: defaultName,
      });
      const spec: HostnameSpec = { hostname: choice.hostname, domainname: choice.domain ?? "", source: choice.source };
      apply?.(spec);
      ctx.modify<HostnameSpec>(HOSTNAME, () => spec);
    },
  };
}

/** What networkd may read of the config: machine.network and machine.time, nothing else (no keys). */
export const networkConfigController: Controller = {
  name: "network-config",
  inputs: [kindOf(MACHINE_CONFIG)],
  outputs: [NETWORK_CONFIGS.type],
  reconcile(ctx) {
    const mc = ctx.get<MachineConfigSpec>(MACHINE_CONFIG)?.spec.config;
    if (!mc) { ctx.destroy(NETWORK_CONFIG); return; }
    ctx.modify<NetworkConfigSpec>(NETWORK_CONFIG, () => ({ network: mc.machine.network, time: mc.machine.time }));
  },
};

/**
 * Network online: a global address on a link that is up with carrier (not loopback). A default
 * route is reported but not required: a node on one flat segment is online without one.
 */
export const networkStatusController: Controller = {
  name: "network-status",
  inputs: [LINK_STATUSES, ADDRESS_STATUSES, ROUTE_STATUSES],
  outputs: [NETWORK_STATUSES.type],
  reconcile(ctx) {
    const links = new Map(ctx.list<LinkStatusSpec>(LINK_STATUSES).map((r) => [r.spec.name, r.spec]));
    const usable = ctx.list<AddressStatusSpec>(ADDRESS_STATUSES).map((r) => r.spec).filter((a) => {
      const l = links.get(a.link);
      return a.scope === "global" && l !== undefined && l.kind !== "loopback" && l.up && l.carrier;
    });
    const defaultRoute = ctx.list<RouteStatusSpec>(ROUTE_STATUSES).some((r) => r.spec.dst === "0.0.0.0/0" || r.spec.dst === "::/0");
    const addresses = usable.map((a) => `${a.address} on ${a.link}`);
    const spec: NetworkStatusSpec = usable.length
      ? { online: true, reason: `address ${addresses[0]}`, addresses, defaultRoute }
      : { online: false, reason: links.size ? "no global address on a link that is up with carrier" : "networkd has published no links yet", addresses, defaultRoute };
    ctx.modify<NetworkStatusSpec>(NETWORK_STATUS, () => spec);
  },
};
