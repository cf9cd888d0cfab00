/**
 * An upgrade on a node installed on a disk (QEMU TCG, 512 MiB, the test images of
 * test/image/fixture.ts): how long the Upgrade call takes with --stage (fetch of the kernel and
 * initramfs from the host over QEMU's user network, signature and digest check, the inactive
 * slot rewritten, the trial armed), repeated; then the reboot into the new slot until the node
 * answers from it. Writes bench/results/upgrade.md.
 * Usage: bun bench/upgrade.ts [--runs N]   (builds out/bunker and the test images if missing)
 */
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDisk } from "../core/gpt/device.ts";
import { verifyImage } from "../core/install/image.ts";
import { install } from "../core/install/install.ts";
import { ctlOk, genCluster, waitForApi } from "../test/e2e/node.ts";
import { realBinary, testImage } from "../test/image/fixture.ts";
import { freePort, withQemu } from "../test/qemu/runner.ts";
import { median, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 3;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const work = mkdtempSync(join(tmpdir(), "bench-upgrade-"));
try {
  const bin = await realBinary();
  const imgA = await testImage(join(work, "a"), bin, { iso: false });
  await testImage(join(work, "v2"), bin, { iso: false, version: "v2" });
  const size = ["vmlinuz", "initramfs.zst"].reduce((n, f) => n + statSync(join(work, "v2", f)).size, 0);
  const disk = join(work, "disk.img");
  writeFileSync(disk, "");
  truncateSync(disk, 2 * 2 ** 30);
  const dev = openDisk(disk, { write: true });
  try { install(dev, verifyImage(imgA), { wipe: false }); } finally { dev.close(); }
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(Bun.file(join(work, new URL(req.url).pathname))) });
  const port = await freePort();
  const c = await genCluster(join(work, "cluster"), port, "bench");
  const staged: number[] = [];
  let rebootMs = 0;
  try {
    await withQemu({ extraArgs: ["-drive", `file=${disk},format=raw,if=virtio`], hostfwd: [{ host: port, guest: 50000 }], allowReboot: true }, async (q) => {
      await q.waitFor("==== node in maintenance mode ====", 240_000);
      await waitForApi({ port, insecure: true }, 60_000);
      await ctlOk(["apply-config", "--insecure", "-e", `127.0.0.1:${port}`, "-f", c.controlplane]);
      await waitForApi({ bunkerconfig: c.bunkerconfig, port }, 120_000);
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await ctlOk(["upgrade", "--image", `http://10.0.2.2:${server.port}/v2/`, "--stage"], c.bunkerconfig, 600_000);
        staged.push(performance.now() - t0);
      }
      const t0 = performance.now();
      await ctlOk(["reboot"], c.bunkerconfig);
      for (;;) {
        const out = await ctlOk(["get", "bootstatus", "-o", "json", "--timeout", "5s"], c.bunkerconfig).catch(() => "");
        if (/"slot":\s*"B"/.test(out) && /upgrade confirmed/.test(out)) break;
        if (performance.now() - t0 > 300_000) throw new Error(`no confirmed boot of slot B within 300 s; console:\n${q.tail(40)}`);
        await Bun.sleep(500);
      }
      rebootMs = performance.now() - t0;
      q.kill();
    });
  } finally {
    void server.stop(true);
  }
  writeResults("upgrade", "Upgrade of a node installed on a disk (QEMU TCG, 512 MiB)", [
    "`bun bench/upgrade.ts`: the test images (kernel + initramfs of the real binary, zstd -3), served",
    "by the host on 127.0.0.1 and fetched by the guest as 10.0.2.2 through QEMU's user network.",
    "",
    "| step | time |",
    "|---|---:|",
    `| \`bunkerctl upgrade --stage\`: fetch ${(size / 1e6).toFixed(1)} MB, check signature and SHA-256, rewrite slot B, arm the trial (median of ${runs}: ${staged.map(s).join(", ")}) | ${s(median(staged))} |`,
    `| \`bunkerctl reboot\` until the node answers from slot B with the trial confirmed | ${s(rebootMs)} |`,
    "",
    "Everything before the reboot runs while the node serves as before: only the reboot is downtime.",
    "TCG emulates the guest's CPU (its SHA-256 and the copy into the slot), so real hardware is faster.",
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
