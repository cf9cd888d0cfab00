import { join } from "node:path";
import { testImage, realBinary } from "../test/image/fixture.ts";
import { ctl } from "../test/e2e/node.ts";
import { freePort, withQemu } from "../test/qemu/runner.ts";
const img = await testImage("/tmp/exp/img", await realBinary(), { iso: false });
const port = await freePort();
await withQemu({ kernel: join(img, "vmlinuz"), initrd: join(img, "initramfs.zst"), append: "console=ttyS0,115200", memoryMiB: 512, hostfwd: [{ host: port, guest: 50000 }] }, async (q) => {
  const t0 = performance.now();
  const tries: string[] = [];
  while (performance.now() - t0 < 120_000) {
    const a = performance.now() - t0;
    const r = await ctl(["version", "--insecure", "-e", `127.0.0.1:${port}`, "--timeout", "3s"], undefined, 10_000);
    tries.push(`${(a / 1000).toFixed(2)}-${((performance.now() - t0) / 1000).toFixed(2)} code ${r.code} ${r.err.split("\n")[0]}`);
    if (r.code === 0) break;
    await Bun.sleep(100);
  }
  for (const l of q.lines) console.log((l.at / 1000).toFixed(2), l.text);
  console.log(tries.join("\n"));
});
