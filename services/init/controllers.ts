/** init's controllers: MachineStatus from the stage, config and services; Hostname from the config. */
import type { Controller } from "../../core/resources/index.ts";
import {
  HOSTNAME, MACHINE_CONFIG, MACHINE_STAGE, MACHINE_STATUS, SERVICES,
  type HostnameSpec, type MachineConfigSpec, type MachineStageSpec, type MachineStatusSpec,
} from "./resources.ts";
import type { ServiceStatus } from "./service.ts";

const kindOf = (r: { namespace: string; type: string }) => ({ namespace: r.namespace, type: r.type });

/** A service counts as up when running (and healthy if it has a check), skipped or cleanly done. */
function serviceUp(s: ServiceStatus): boolean {
  if (s.state === "Skipped") return true;
  if (s.state === "Running") return s.healthy !== false;
  return s.state === "Finished" && s.lastExit?.code === 0;
}

export const machineStatusController: Controller = {
  name: "machine-status",
  inputs: [kindOf(MACHINE_STAGE), kindOf(MACHINE_CONFIG), SERVICES],
  outputs: [MACHINE_STATUS.type],
  reconcile(ctx) {
    const stageSpec = ctx.get<MachineStageSpec>(MACHINE_STAGE)?.spec;
    const stage = stageSpec?.stage ?? "booting";
    const unmet: MachineStatusSpec["unmetConditions"] = [];
    if (!ctx.get(MACHINE_CONFIG)) {
      unmet.push({ name: "config", reason: stageSpec?.configError ?? "no machine config: waiting in maintenance mode for apply-config" });
    }
    for (const s of ctx.list<ServiceStatus>(SERVICES)) {
      if (!serviceUp(s.spec)) {
        const last = s.spec.events.at(-1)?.message ?? "";
        unmet.push({ name: `service ${s.metadata.id}`, reason: `${s.spec.state}${s.spec.healthy === false ? " (unhealthy)" : ""}${last ? `: ${last}` : ""}` });
      }
    }
    if (stage !== "running") unmet.unshift({ name: "stage", reason: `stage is ${stage}` });
    ctx.modify<MachineStatusSpec>(MACHINE_STATUS, () => ({ stage, ready: unmet.length === 0, unmetConditions: unmet }));
  },
};

/** Derives the hostname; `apply` sets it in the kernel (only as PID 1 on a node). */
export function hostnameController(defaultName: string, apply?: (h: HostnameSpec) => void): Controller {
  return {
    name: "hostname",
    inputs: [kindOf(MACHINE_CONFIG)],
    outputs: [HOSTNAME.type],
    reconcile(ctx) {
      const mc = ctx.get<MachineConfigSpec>(MACHINE_CONFIG)?.spec.config as { machine?: { network?: { hostname?: unknown } } } | undefined;
      const configured = mc?.machine?.network?.hostname;
      let spec: HostnameSpec = { hostname: defaultName, domainname: "", source: "default" };
      if (typeof configured === "string" && configured) {
        if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(configured)) {
          throw new Error(`machine.network.hostname "${configured}": not an RFC 1123 name`);
        }
        const [host, ...domain] = configured.split(".");
        spec = { hostname: host!, domainname: domain.join("."), source: "config" };
      }
      apply?.(spec);
      ctx.modify<HostnameSpec>(HOSTNAME, () => spec);
    },
  };
}
