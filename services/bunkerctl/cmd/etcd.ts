import { ResourceService as R } from "../../../core/api/gen/services.ts";
import type { EtcdMemberSpec, EtcdStatusSpec } from "../../init/resources.ts";
import { ETCD_MEMBERS, ETCD_STATUS } from "../../init/resources.ts";
import { formatOption, FORMAT_OPTION, OUTPUT_HELP, runRemote } from "../client/remote.ts";
import { CONNECT_HELP } from "../client/remote.ts";
import { printRecords } from "../client/output.ts";

const MEMBERS_HELP = `Usage: bunkerctl etcd members [-o table|json|yaml] [connection flags]

Lists the etcd members as each node's etcd sees them (os:reader and up): id (hex, as etcdctl
prints it), name, peer and client URLs, learner or voting, started or not. Read from the
EtcdMembers resource, which init refreshes every 10 s while etcd runs there.

${OUTPUT_HELP}

${CONNECT_HELP}`;

const STATUS_HELP = `Usage: bunkerctl etcd status [-o table|json|yaml] [connection flags]

For each node: where its etcd stands (waiting for a bootstrap, joining, a member, skipped and
why), and per member the leader, raft index, raft term, database size and version, each from
the member's own status (os:reader and up).

${OUTPUT_HELP}

${CONNECT_HELP}`;

type Row = { node: string; spec: EtcdMemberSpec };

async function members(argv: string[], help: string, print: (format: "table" | "json" | "yaml", rows: Row[], phases: { node: string; spec: EtcdStatusSpec | undefined }[]) => void): Promise<number> {
  return runRemote(argv, help, { ...FORMAT_OPTION }, [0, 0], async (a, r) => {
    const format = formatOption(a.values.output, help, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const { results, exit } = await r.each(async (d) => {
      const list = await r.api.unary(R.List, { type: ETCD_MEMBERS.type, namespace: ETCD_MEMBERS.namespace }, d);
      const st = await r.api.unary(R.Get, { type: ETCD_STATUS.type, id: ETCD_STATUS.id, namespace: ETCD_STATUS.namespace }, d).catch(() => ({ resource: undefined }));
      return {
        rows: (list.resources ?? []).map((x) => JSON.parse(x.specJson ?? "{}") as EtcdMemberSpec),
        status: st.resource ? JSON.parse(st.resource.specJson ?? "{}") as EtcdStatusSpec : undefined,
      };
    });
    print(format, results.flatMap(({ d, value }) => value.rows.map((spec) => ({ node: d.label, spec }))), results.map(({ d, value }) => ({ node: d.label, spec: value.status })));
    return exit;
  });
}

export function runMembers(argv: string[]): Promise<number> {
  return members(argv, MEMBERS_HELP, (format, rows) => printRecords(format, rows, [
    ["NODE", (x) => x.node], ["ID", (x) => x.spec.id], ["NAME", (x) => x.spec.name || "(not started)"],
    ["PEER URLS", (x) => x.spec.peerURLs.join(",")], ["CLIENT URLS", (x) => x.spec.clientURLs.join(",")],
    ["LEARNER", (x) => String(x.spec.learner)],
  ], (x) => ({ node: x.node, ...x.spec })));
}

export function runStatus(argv: string[]): Promise<number> {
  return members(argv, STATUS_HELP, (format, rows, phases) => {
    if (format !== "table") {
      const out = phases.map((p) => ({ node: p.node, etcd: p.spec, members: rows.filter((x) => x.node === p.node).map((x) => x.spec) }));
      printRecords(format, out, [], (x) => x);
      return;
    }
    printRecords(format, phases, [["NODE", (p) => p.node], ["PHASE", (p) => p.spec?.phase ?? "?"], ["MEMBER", (p) => p.spec?.memberId ?? ""], ["MESSAGE", (p) => p.spec?.unmet ?? p.spec?.message ?? "no EtcdStatus (init runs no etcd)"]]);
    if (!rows.length) return;
    console.log("");
    printRecords(format, rows, [
      ["NODE", (x) => x.node], ["MEMBER", (x) => x.spec.id], ["NAME", (x) => x.spec.name], ["LEADER", (x) => String(x.spec.leader)],
      ["LEARNER", (x) => String(x.spec.learner)], ["RAFT INDEX", (x) => x.spec.raftIndex], ["RAFT TERM", (x) => x.spec.raftTerm],
      ["DB SIZE", (x) => String(x.spec.dbSize)], ["VERSION", (x) => x.spec.version], ["ERROR", (x) => x.spec.error ?? ""],
    ]);
  });
}
