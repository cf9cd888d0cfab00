import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { MachineService as M, ResourceService as R } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import type { EtcdMemberSpec, EtcdStatusSpec } from "../../init/resources.ts";
import { ETCD_MEMBERS, ETCD_STATUS } from "../../init/resources.ts";
import { CONNECT_HELP, formatOption, FORMAT_OPTION, OUTPUT_HELP, runRemote, type Remote } from "../client/remote.ts";
import type { Destination } from "../client/api.ts";
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

const REMOVE_HELP = `Usage: bunkerctl etcd remove-member ID -n CONTROLPLANE [connection flags]

Removes the etcd member ID (hex, as \`bunkerctl etcd members\` and etcdctl print it) through
the etcd of the node named, for a control plane that is gone for good (os:admin). Refused for
the node's own member (use \`bunkerctl etcd leave\` on it) and for an id that is no member.

${CONNECT_HELP}`;

const LEAVE_HELP = `Usage: bunkerctl etcd leave -n CONTROLPLANE [connection flags]

The node named leaves the etcd cluster (os:admin): another member removes it, its etcd stops
and its etcd data is wiped. It does not join again until its init starts again (a reboot).
Refused when it is the only member.

${CONNECT_HELP}`;

const SNAPSHOT_HELP = `Usage: bunkerctl etcd snapshot FILE -n CONTROLPLANE [connection flags]

Saves a snapshot of the node's etcd database to FILE (os:admin or os:etcd:backup), streamed
as etcd sends it; written to FILE.part and renamed once whole, so FILE is never a part.
etcdctl snapshot status FILE checks it.

${CONNECT_HELP}`;

/** Exactly one node: each of these acts on one member. */
function oneNode(help: string, what: string, n: number): number | undefined {
  return n === 1 ? undefined : usageError(help, `${what} acts on one control plane; name it with -n (got ${n} nodes)`);
}

/** One unary call to one node, its answer's message printed. */
function oneCall(argv: string[], help: string, what: string, positionals: [number, number], call: (r: Remote, d: Destination, args: string[]) => Promise<{ message?: string | null }>): Promise<number> {
  return runRemote(argv, help, {}, positionals, async (a, r) => {
    const bad = oneNode(help, what, r.dests.length);
    if (bad !== undefined) return bad;
    const d = r.dests[0]!;
    console.log(`${d.label}: ${(await call(r, d, a.positionals)).message ?? ""}`);
    return 0;
  });
}

export const runRemoveMember = (argv: string[]) => oneCall(argv, REMOVE_HELP, "remove-member", [1, 1], (r, d, p) => r.api.unary(M.EtcdRemoveMember, { memberId: p[0]! }, d));
export const runLeave = (argv: string[]) => oneCall(argv, LEAVE_HELP, "leave", [0, 0], (r, d) => r.api.unary(M.EtcdLeaveCluster, {}, d));

const FORFEIT_HELP = `Usage: bunkerctl etcd forfeit-leadership -n CONTROLPLANE [connection flags]

If the node named leads the etcd cluster, it hands the leadership to another started voting
member (the one furthest along), e.g. before maintenance on it (os:admin). A node that does not
lead has nothing to hand over, and says so.

${CONNECT_HELP}`;

const DEFRAG_HELP = `Usage: bunkerctl etcd defrag -n CONTROLPLANE [connection flags]

Defragments the etcd database of the node named, giving back the space of deleted revisions
to the file system (os:admin). Its member answers nothing while it runs: one node at a time.

${CONNECT_HELP}`;

const ALARM_HELP = `Usage: bunkerctl etcd alarm list|disarm [-o table|json|yaml] [connection flags]

  list     the etcd cluster's alarms as each node's etcd reports them (os:reader and up):
           NOSPACE (the database reached its quota: etcd takes no more writes) or CORRUPT
  disarm   clears every alarm (os:admin), once the cause is dealt with (after a NOSPACE:
           compact, defrag, or a larger quota); etcd takes writes again

${OUTPUT_HELP}

${CONNECT_HELP}`;

export const runForfeitLeadership = (argv: string[]) => oneCall(argv, FORFEIT_HELP, "forfeit-leadership", [0, 0], (r, d) => r.api.unary(M.EtcdForfeitLeadership, {}, d));
export const runDefrag = (argv: string[]) => oneCall(argv, DEFRAG_HELP, "defrag", [0, 0], (r, d) => r.api.unary(M.EtcdDefragment, {}, d));

export function runAlarm(argv: string[]): Promise<number> {
  return runRemote(argv, ALARM_HELP, { ...FORMAT_OPTION }, [1, 1], async (a, r) => {
    const action = a.positionals[0]!;
    if (action !== "list" && action !== "disarm") return usageError(ALARM_HELP, `etcd alarm ${action}: expected list or disarm`);
    const format = formatOption(a.values.output, ALARM_HELP, ["table", "json", "yaml"]);
    if (typeof format === "number") return format;
    const { results, exit } = await r.each(async (d) => action === "list"
      ? (await r.api.unary(M.EtcdAlarmList, {}, d)).alarms ?? []
      : (await r.api.unary(M.EtcdAlarmDisarm, {}, d)).disarmed ?? []);
    const rows = results.flatMap(({ d, value }) => value.map((x) => ({ node: d.label, member: x.memberId ?? "", alarm: x.alarm ?? "" })));
    if (format === "table" && !rows.length) {
      for (const { d } of results) console.log(`${d.label}: ${action === "list" ? "no alarms" : "no alarms to disarm"}`);
      return exit;
    }
    printRecords(format, rows, [["NODE", (x) => x.node], ["MEMBER", (x) => x.member], [action === "list" ? "ALARM" : "DISARMED", (x) => x.alarm]], (x) => x);
    return exit;
  });
}

export function runSnapshot(argv: string[]): Promise<number> {
  return runRemote(argv, SNAPSHOT_HELP, {}, [1, 1], async (a, r) => {
    const bad = oneNode(SNAPSHOT_HELP, "snapshot", r.dests.length);
    if (bad !== undefined) return bad;
    const d = r.dests[0]!;
    const file = a.positionals[0]!;
    const part = `${file}.part`;
    const fd = openSync(part, "w", 0o600);
    let size = 0;
    try {
      for await (const chunk of r.api.stream(M.EtcdSnapshot, {}, d, { timeoutMs: r.api.timeoutMs })) {
        if (chunk.data?.length) { writeSync(fd, chunk.data); size += chunk.data.length; }
      }
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(part, { force: true });
      throw err;
    }
    closeSync(fd);
    if (size === 0) { rmSync(part, { force: true }); console.error(`error: ${d.label}: the snapshot was empty`); return 1; }
    renameSync(part, file);
    console.log(`${d.label}: snapshot saved to ${file} (${size} bytes)`);
    return 0;
  });
}
