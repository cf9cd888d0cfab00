/**
 * The image: artifact sizes against the budgets, QEMU boot time (TCG, -cpu max) of our kernel with
 * a busybox initramfs (the floor) next to our image in the same run, and the smallest VM memory
 * our image boots in. Writes bench/results/image.md.
 * Usage: bun bench/image.ts [--runs N] [--no-compress]   (needs `just image` first for out/image)
 *
 * Until the real `init` personality is in the binary, the image boots the stand-in PID 1 of
 * test/qemu/fixtures/stage-init.ts, and the marker is its STAGE-OK line (root verified, mounted,
 * switched, checked), printed right before the real init would start its services.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildImage } from "../rootfs/build/main.ts";
import { kernel, stageBinary, testKey } from "../test/image/fixture.ts";
import { withQemu, type QemuOptions } from "../test/qemu/runner.ts";
import { busyboxInitramfs } from "./floor.ts";
import { median, root, writeResults } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 3;
const outImage = resolve(root, "out/image");
if (!existsSync(join(outImage, "manifest.json"))) throw new Error("out/image is missing: run `just image` first");

const MB = 1e6;
const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
const size = (f: string) => statSync(join(outImage, f)).size;
const lines: string[] = ["## Sizes (out/image, `just image`)", "", "| artifact | bytes | MB |", "|---|---:|---:|"];
for (const f of ["vmlinuz", "initramfs.zst", "rootfs.sqsh", "bunker.iso"]) lines.push(`| ${f} | ${size(f)} | ${mb(size(f))} |`);
const kPlusI = size("vmlinuz") + size("initramfs.zst");
lines.push(`| kernel + initramfs | ${kPlusI} | ${mb(kPlusI)} |`);
const bin = resolve(root, "out/bunker");
lines.push(`| binary, raw | ${statSync(bin).size} | ${mb(statSync(bin).size)} |`);
if (!args.includes("--no-compress")) {
  for (const [name, cmd] of [["xz -9", ["xz", "-9", "-T2", "-c", bin]], ["zstd -19", ["zstd", "-19", "-T2", "-c", bin]], ["zstd -3", ["zstd", "-3", "-T2", "-c", bin]]] as const) {
    const n = Bun.spawnSync([...cmd], { stdout: "pipe", stderr: "ignore" }).stdout.byteLength;
    lines.push(`| binary, ${name} | ${n} | ${mb(n)} |`);
  }
}
const budget = (what: string, got: number, limit: number) =>
  `- ${what}: ${mb(got)} against <= ${mb(limit)}: ${got <= limit ? "within budget" : `OVER by ${mb(got - limit)}`}`;
lines.push(
  "",
  budget("kernel + initramfs, compressed", kPlusI, 45 * MB),
  budget("ISO", size("bunker.iso"), 50 * MB),
  "",
  "What holds the sizes back: the Bun binary is almost all of the initramfs (see its compressed sizes",
  "above; the Bun runtime alone is 107 MB raw of it); the kernel (-O2, UBSAN bounds checks, server",
  "NIC drivers, XFS, nftables) and the install tools in rootfs.sqsh (mke2fs, mkfs.fat, mtools, GRUB",
  "images: 0.9 MB) add the rest, and",
  "the ISO adds GRUB for BIOS and UEFI. xz would save about 3 MB but costs seconds of TCG boot",
  "(research/qemu.md); `zstd --ultra -22 --long=27` saved 1 MB for 3 minutes of build and a 128 MiB",
  "decompression window at boot, so the image keeps zstd -19.",
);

// --- boot times -------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "bench-image-"));
try {
  const vmlinuz = await kernel();
  const bbz = await busyboxInitramfs(work);

  // Our image with the stand-in PID 1, at the shipped zstd level (19) and at 3 for comparison.
  const stage = await stageBinary();
  const images: Record<string, string> = {};
  for (const level of [19, 3]) {
    const out = join(work, `img${level}`);
    await buildImage({ out, binary: stage, kernel: vmlinuz, keyPem: testKey(), zstdLevel: level, iso: false, epoch: 1_700_000_000, build: { version: "bench", commit: "bench" } });
    images[level] = out;
  }

  /** Milliseconds to the marker, or null and the console line that says why it did not come. */
  async function bootTry(o: QemuOptions, marker: string): Promise<{ ms: number | null; why: string }> {
    return withQemu(o, async (q) => {
      try {
        return { ms: (await q.waitFor(marker, 120_000)).at, why: "" };
      } catch {
        const why = q.find(/failed|Kernel panic|\[preinit\] cannot|FATAL/)?.text.replace(/^\[\s*[\d.]+\]\s*/, "") ?? "no marker";
        return { ms: null, why };
      }
    });
  }
  const bootTime = async (o: QemuOptions, marker: string) => (await bootTry(o, marker)).ms;
  const append = "console=ttyS0,115200";
  const cases: [string, QemuOptions, string][] = [
    ["our kernel + busybox initramfs (floor)", { kernel: vmlinuz, initrd: bbz, append }, "BUSYBOX-READY"],
    ["our image, initramfs zstd -19 (shipped)", { kernel: vmlinuz, initrd: join(images[19]!, "initramfs.zst"), append }, "STAGE-OK"],
    ["our image, initramfs zstd -3", { kernel: vmlinuz, initrd: join(images[3]!, "initramfs.zst"), append }, "STAGE-OK"],
  ];
  const med: number[] = [];
  lines.push("", "Boot times vary by a second or more between runs on this shared 2-core machine: see all runs.");
  lines.push("", `## QEMU start to console marker (TCG, -cpu max, 512 MiB, direct kernel boot; median of ${runs}, same run)`, "", "| boot | marker | median | all runs |", "|---|---|---:|---|");
  for (const [name, o, marker] of cases) {
    const t: number[] = [];
    for (let i = 0; i < runs; i++) {
      const ms = await bootTime(o, marker);
      if (ms !== null) t.push(ms);
    }
    const m = t.length ? median(t) : NaN;
    med.push(m);
    lines.push(`| ${name} | ${marker} | ${(m / 1000).toFixed(2)} s | ${t.map((x) => (x / 1000).toFixed(2)).join(", ")} |`);
  }
  const ratio = med[1]! / med[0]!;
  lines.push(
    "",
    `Ratio of our image (shipped) to the floor: **${ratio.toFixed(2)}x** (budget: API ready <= 2x the floor and <= 5 s).`,
    "The marker is the stand-in PID 1's STAGE-OK, i.e. before any service starts: the API-ready time will be later.",
  );

  // --- smallest memory ------------------------------------------------------------------------
  lines.push("", "## Smallest VM memory that boots the image (to STAGE-OK, zstd -19)", "", "| memory | boots |", "|---|---|");
  let smallest = "";
  for (const m of [256, 320, 384, 512]) {
    const { ms, why } = await bootTry({ kernel: vmlinuz, initrd: join(images[19]!, "initramfs.zst"), append, memoryMiB: m }, "STAGE-OK");
    lines.push(`| ${m} MiB | ${ms === null ? `no: ${why}` : `yes (${(ms / 1000).toFixed(2)} s)`} |`);
    if (ms !== null && !smallest) smallest = `${m} MiB`;
  }
  lines.push(
    "",
    `Smallest: ${smallest || "none of these"} (budget: <= 384 MiB with the API serving).`,
    "While booting, the kernel holds the compressed initramfs and what it unpacks (the binary) at once.",
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
lines.push("", "Time to the first `bunkerctl version`, the smallest memory that serves the API and idle RSS per process: bench/boot.ts (boot.md).");
writeResults("image", "The image: sizes, boot time against the busybox floor, smallest memory", lines);
