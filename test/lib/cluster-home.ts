/**
 * A folder for tests of `bunkerctl cluster create`: the clusters' state and a client config of
 * its own, and bunkerctl (the compiled binary) run with both. The folder is opened to other users
 * (0755): the nodes' services run as their own uids and must reach their folders under it.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin } from "./container-node.ts";

export class ClusterHome {
  readonly root = mkdtempSync(join(tmpdir(), "bunker-clusters-"));
  /** BUNKER_CLUSTERS: each cluster's folder is STATE/NAME. */
  readonly state = join(this.root, "clusters");
  /** BUNKERCONFIG: where create merges the cluster's context. */
  readonly bunkerconfig = join(this.root, "bunkerconfig");

  constructor() {
    chmodSync(this.root, 0o755);
  }

  async ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const p = Bun.spawn([bin, "bunkerctl", ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, BUNKERCONFIG: this.bunkerconfig, BUNKER_CLUSTERS: this.state } });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, out, err };
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
