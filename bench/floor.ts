/**
 * The boot floor of the benchmarks: our kernel with a busybox initramfs whose init prints one
 * line and powers off. Busybox init runs the inittab below (no shell needed; our kernel has no
 * #! support anyway). Shared by bench/image.ts and bench/boot.ts so both measure the same floor.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeCpio } from "../core/image/cpio.ts";
import { run } from "../rootfs/build/tools.ts";

export const FLOOR_MARKER = "BUSYBOX-READY";

/** Writes the busybox initramfs (zstd -19, as the image's) into `work`; returns its path. */
export async function busyboxInitramfs(work: string): Promise<string> {
  const bb = join(work, "bb.cpio");
  writeFileSync(join(work, "inittab"), `::sysinit:/bin/busybox echo ${FLOOR_MARKER}\n::sysinit:/bin/busybox poweroff -f\n`);
  writeCpio(bb, [
    { path: "init", type: "file", mode: 0o755, source: "/bin/busybox" },
    { path: "bin/busybox", type: "file", mode: 0o755, source: "/bin/busybox" },
    { path: "etc/inittab", type: "file", source: join(work, "inittab") },
    { path: "dev/console", type: "char", mode: 0o600, major: 5, minor: 1 },
    { path: "proc", type: "dir" },
  ]);
  await run(["zstd", "-q", "-19", "-f", "-o", `${bb}.zst`, bb]);
  return `${bb}.zst`;
}
