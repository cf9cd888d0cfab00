/**
 * etcd as init runs it (control planes): the EtcdNode (bootstrap, join, members) wired to the
 * supervisor that runs the process and to the store that publishes its status and members.
 */
import type { MachineConfig } from "../../../core/config/config.ts";
import type { Store } from "../../../core/resources/index.ts";
import { EtcdNode } from "../etcd.ts";
import type { EventHistory } from "../events.ts";
import { errText, log } from "../log.ts";
import { ETCD_MEMBERS, ETCD_STATUS, type EtcdMemberSpec, type EtcdStatusSpec } from "../resources.ts";
import type { Supervisor } from "../supervisor.ts";
import type { MachineOptions } from "./options.ts";

export interface EtcdLinkDeps {
  store: Store;
  events: EventHistory;
  supervisor: Supervisor;
  runDir: string;
  etcd: NonNullable<MachineOptions["etcd"]>;
  currentConfig(): MachineConfig | undefined;
  hostname(): string;
}

/** This control plane's etcd, its service added to the supervisor. */
export function addEtcd(d: EtcdLinkDeps): EtcdNode {
  const { etcd: e, store, events, supervisor } = d;
  const node = new EtcdNode({
    dataDir: e.dataDir, runDir: d.runDir, clientPort: e.clientPort, peerPort: e.peerPort, uid: e.uid, gid: e.gid, extension: e.extension,
    current: () => ({ config: d.currentConfig(), hostname: d.hostname() }),
    start: () => supervisor.restart("etcd"),
    stop: () => supervisor.stop("etcd"),
    running: () => supervisor.status("etcd").state === "Running",
    onStatus: (spec) => store.modify<EtcdStatusSpec>(ETCD_STATUS, () => spec, { owner: "init" }),
    onEvent: (message) => { log.info(`etcd: ${message}`); events.add("etcd", message); },
    onError: (err) => log.error(`etcd: ${errText(err)}`),
    onMembers: (members) => {
      const ids = new Set(members.map((m) => m.id));
      for (const m of members) store.modify<EtcdMemberSpec>({ ...ETCD_MEMBERS, id: m.id }, () => m, { owner: "init" });
      for (const r of store.list(ETCD_MEMBERS)) if (!ids.has(r.metadata.id)) store.destroy({ ...ETCD_MEMBERS, id: r.metadata.id }, { owner: "init" });
    },
  });
  supervisor.add(node.service());
  return node;
}
