import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { MachineService as M } from "../../../core/api/gen/services.ts";
import { usageError } from "../args.ts";
import { CONNECT_HELP, runRemote } from "../client/remote.ts";

const HELP = `Usage: bunkerctl bootstrap -n CONTROLPLANE [--recover-from FILE] [connection flags]

Starts a new etcd cluster on exactly one control plane (os:admin); every other control plane
then joins it by itself. Once per cluster: refused, with the reason, when the node already has
etcd data, when etcd already runs there, when another control plane already answers as an etcd
member, on a worker, and where no etcd is installed.

Options:
  --recover-from FILE   start the new cluster from FILE, a snapshot (bunkerctl etcd snapshot),
                        when quorum is lost for good: FILE is sent to the node in pieces, its
                        SHA-256 checked there, read whole by etcdctl snapshot status and
                        restored with etcdctl snapshot restore; the node then starts as a
                        cluster of one with that data, and the other control planes, reset,
                        join it. See docs/operator.md, "Recovering etcd".

${CONNECT_HELP}

Example:
  bunkerctl bootstrap -n 10.5.0.2
  bunkerctl bootstrap -n 10.5.0.2 --recover-from etcd.snapshot`;

/** The size of each piece of a snapshot sent to the node (its request limit is 1 MiB of data). */
const PIECE = 1024 * 1024;

export function run(argv: string[]): Promise<number> {
  return runRemote(argv, HELP, { "recover-from": { type: "string" } }, [0, 0], async (a, r) => {
    // One node, never several: two bootstraps would make two clusters.
    if (r.dests.length !== 1) return usageError(HELP, `bootstrap starts etcd on exactly one control plane; name it with -n (got ${r.dests.length} nodes)`);
    const d = r.dests[0]!;
    const file = a.values["recover-from"];
    if (file === undefined) {
      const answer = await r.api.unary(M.Bootstrap, {}, d);
      console.log(`${d.label}: ${answer.message}`);
      return 0;
    }
    let fd: number;
    try { fd = openSync(file, "r"); } catch (err) {
      return usageError(HELP, `--recover-from ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const hash = createHash("sha256");
    let offset = 0;
    try {
      const buf = Buffer.alloc(PIECE);
      for (;;) {
        const n = readSync(fd, buf, 0, PIECE, offset);
        if (n === 0) break;
        const piece = buf.subarray(0, n);
        hash.update(piece);
        const got = await r.api.unary(M.EtcdRecoverUpload, { offset, data: piece }, d);
        offset += n;
        if (Number(got.size) !== offset) throw new Error(`the node holds ${got.size} bytes of the snapshot after ${offset} were sent`);
      }
    } finally {
      closeSync(fd);
    }
    if (offset === 0) return usageError(HELP, `--recover-from ${file}: the file is empty`);
    const answer = await r.api.unary(M.Bootstrap, { recover: true, recoverSha256: hash.digest("hex") }, d);
    console.log(`${d.label}: ${answer.message}`);
    return 0;
  });
}
