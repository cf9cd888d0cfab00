/**
 * The image: artifact sizes against the budgets; the SquashFS root's compression choices (zstd
 * levels, xz, block sizes), each by the size of what the bootloader loads and by QEMU boot time
 * (TCG, -cpu max) next to our kernel with a busybox initramfs (the floor), interleaved in one run;
 * and the smallest VM memory our image boots in. Writes bench/results/image.md.
 * Usage: bun bench/image.ts [--runs N] [--no-compress] [--variants "zstd:19,1M;xz,1M;..."]
 *        bun bench/image.ts --sizes-only [--no-compress]   (the sizes alone, in a section of
 *        their own at the top of bench/results/image.md; the rest of the file is kept)
 *        (needs `just image` first for out/image)
 *
 * The boots use the stand-in PID 1 of test/qemu/fixtures/stage-init.ts (a compiled Bun program
 * like the real binary, read from the verified root the same way), and the marker is its STAGE-OK
 * line, printed right after the shim switched into the verified root and Bun started.
 * API-ready times with the real init: bench/boot.ts.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { EXTENSIONS } from "../core/image/layout.ts";
import { buildImage } from "../rootfs/build/main.ts";
import { DEFAULT_ROOT_COMPRESSION, parseRootCompression, type RootCompression } from "../rootfs/build/rootfs.ts";
import { kernel, stageBinary, testKey } from "../test/image/fixture.ts";
import { withQemu, type QemuOptions } from "../test/qemu/runner.ts";
import { busyboxInitramfs } from "./floor.ts";
import { median, root, writeResults, writeSection } from "./lib.ts";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] ?? 0) || 3;
const outImage = resolve(root, "out/image");
if (!existsSync(join(outImage, "manifest.json"))) throw new Error("out/image is missing: run `just image` first");

const MB = 1e6;
const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
const size = (f: string) => statSync(join(outImage, f)).size;
// Tagged, so that a later --sizes-only replaces this section in place.
const lines: string[] = ["<!-- sizes: base and extensions -->", "", "## Sizes (out/image, `just image`)", "", "| artifact | bytes | MB |", "|---|---:|---:|"];
for (const f of ["vmlinuz", "initramfs.zst", "bunker.iso"]) lines.push(`| ${f} | ${size(f)} | ${mb(size(f))} |`);
const kPlusI = size("vmlinuz") + size("initramfs.zst");
lines.push(`| kernel + initramfs (the base: what the budget counts) | ${kPlusI} | ${mb(kPlusI)} |`);
// The extensions are reported apart: they are not part of the base (docs/image.md, "Extensions").
for (const e of EXTENSIONS) lines.push(`| extension ${e.name}: ${e.file} (apart from the base) | ${size(e.file)} | ${mb(size(e.file))} |`);
const everything = kPlusI + EXTENSIONS.reduce((n, e) => n + size(e.file), 0);
lines.push(`| everything the bootloader loads (base + extensions) | ${everything} | ${mb(everything)} |`);
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
  "The initramfs is the SquashFS root (binary, libraries, install tools, skeleton; stored, not",
  "compressed again) and the small zstd pre-init archive; the SquashFS's compression is chosen below.",
  "<!-- /sizes -->",
);

if (args.includes("--sizes-only")) {
  const when = `Measured ${new Date().toISOString().slice(0, 10)} on ${navigator.hardwareConcurrency} cores, Bun ${Bun.version}, with \`bun bench/image.ts --sizes-only\`.`;
  writeSection("image", "The image: sizes, boot time against the busybox floor, smallest memory", "sizes", [lines[0], "", when, ...lines.slice(1)].join("\n"));
  process.exit(0);
}

// --- boot times -------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), "bench-image-"));
try {
  const vmlinuz = await kernel();
  const bbz = await busyboxInitramfs(work);

  // Our image with the stand-in PID 1, once per SquashFS compression choice.
  const variantText = args.includes("--variants") ? args[args.indexOf("--variants") + 1]! : "zstd:19,128K;zstd:19,1M;zstd:9,1M;xz,128K;xz,1M";
  const variants = variantText.split(";").map((t) => ({ name: t, comp: parseRootCompression(t) }));
  const label = (c: RootCompression) => `${c.algo === "zstd" ? `zstd -${c.level}` : c.algo === "xz" ? "xz (x86 BCJ)" : "uncompressed"}, ${c.blockSize >= 1 << 20 ? `${c.blockSize >> 20} MiB` : `${c.blockSize >> 10} KiB`} blocks`;
  const same = (a: RootCompression, b: RootCompression) => a.algo === b.algo && a.blockSize === b.blockSize && (a.algo !== "zstd" || a.level === b.level);
  const stage = await stageBinary();
  const images: { name: string; comp: RootCompression; dir: string }[] = [];
  for (const v of variants) {
    const dir = join(work, `img-${images.length}`);
    await buildImage({ out: dir, binary: stage, kernel: vmlinuz, keyPem: testKey(), zstdLevel: 19, rootCompression: v.comp, iso: false, epoch: 1_700_000_000, build: { version: "bench", commit: "bench" } });
    images.push({ ...v, dir });
  }
  const shipped = images.find((i) => same(i.comp, DEFAULT_ROOT_COMPRESSION)) ?? images[0]!;

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
  const cases: [string, QemuOptions, string, number][] = [
    ["our kernel + busybox initramfs (floor)", { kernel: vmlinuz, initrd: bbz, append }, "BUSYBOX-READY", statSync(bbz).size],
    ...images.map((i): [string, QemuOptions, string, number] => [
      `root ${label(i.comp)}${i === shipped ? " (shipped)" : ""}`, { kernel: vmlinuz, initrd: join(i.dir, "initramfs.zst"), append }, "STAGE-OK", statSync(join(i.dir, "initramfs.zst")).size,
    ]),
  ];
  // Interleaved: run i of every case before run i+1 of any, so the machine's load falls on all alike.
  const times: number[][] = cases.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, [, o, marker]] of cases.entries()) {
      const ms = await bootTime(o, marker);
      if (ms !== null) times[k]!.push(ms);
    }
  }
  const med = times.map((t) => (t.length ? median(t) : NaN));
  lines.push("", "Boot times vary by a second or more between runs on this shared 2-core machine: see all runs.");
  lines.push(
    "",
    `## SquashFS compression: size and QEMU start to console marker (TCG, -cpu max, 512 MiB, direct kernel boot; median of ${runs}, interleaved)`,
    "",
    "The stand-in PID 1 is a compiled Bun program (the same Bun runtime as the real binary, a smaller script), so its sizes are a little below the real image's.",
    "",
    "| boot | initrd bytes | kernel + initrd | marker | median | x floor | all runs |",
    "|---|---:|---:|---|---:|---:|---|",
  );
  for (const [k, [name, , marker, bytes]] of cases.entries()) {
    const total = k === 0 ? "" : mb(size("vmlinuz") + bytes);
    lines.push(`| ${name} | ${bytes} | ${total} | ${marker} | ${(med[k]! / 1000).toFixed(2)} s | ${(med[k]! / med[0]!).toFixed(2)}x | ${times[k]!.map((x) => (x / 1000).toFixed(2)).join(", ")} |`);
  }
  lines.push("", `The shipped choice: ${label(shipped.comp)} (DEFAULT_ROOT_COMPRESSION in rootfs/build/rootfs.ts).`);
  const k = (i: (typeof images)[number]) => 1 + images.indexOf(i);
  const stored = images.find((i) => i.comp.algo === "none");
  lines.push(
    "",
    `What the figures say: a compiled Bun program that prints one line, run as PID 1 from the verified root, reaches it at ${(med[k(shipped)]! / med[0]!).toFixed(2)}x the floor with the shipped compression.`,
    ...(stored ? [
      `Stored uncompressed, the root boots in ${(med[k(stored)]! / 1000).toFixed(2)} s against ${(med[k(shipped)]! / 1000).toFixed(2)} s: what the kernel must copy grows by`,
      `${mb(statSync(join(stored.dir, "initramfs.zst")).size - statSync(join(shipped.dir, "initramfs.zst")).size)} and costs about what decompression saves, so the rest is the runtime's own start in the emulated CPU.`,
    ] : []),
  );

  // --- smallest memory ------------------------------------------------------------------------
  lines.push("", `## Smallest VM memory that boots the image (to STAGE-OK, ${label(shipped.comp)})`, "", "| memory | boots |", "|---|---|");
  let smallest = "";
  for (const m of [160, 192, 224, 256, 320]) {
    const { ms, why } = await bootTry({ kernel: vmlinuz, initrd: join(shipped.dir, "initramfs.zst"), append, memoryMiB: m }, "STAGE-OK");
    lines.push(`| ${m} MiB | ${ms === null ? `no: ${why}` : `yes (${(ms / 1000).toFixed(2)} s)`} |`);
    if (ms !== null && !smallest) smallest = `${m} MiB`;
  }
  lines.push(
    "",
    `Smallest: ${smallest || "none of these"} (budget: <= 256 MiB with the API serving: bench/boot.ts).`,
    "While booting, the kernel holds the initrd it was given and the copy it unpacks (the SquashFS) at once; the binary's pages are then read from the SquashFS as they are touched.",
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
lines.push("", "Time to the first `bunkerctl version`, the smallest memory that serves the API and idle RSS per process: bench/boot.ts (boot.md).");
writeResults("image", "The image: sizes, boot time against the busybox floor, smallest memory", lines);
