import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSigningKey, loadSigningKey } from "../image/manifest.ts";
import { writeBootManifest } from "../../rootfs/build/bootmanifest.ts";
import { isBunkerIso } from "../../services/init/bootmedium.ts";
import { verifyImage } from "./image.ts";
import { IsoError, IsoImage } from "./iso9660.ts";
import { copyBootFiles } from "./job.ts";

const work = mkdtempSync(join(tmpdir(), "iso9660-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const have = Bun.which("xorriso") !== null;

/** An ISO made by xorriso (Rock Ridge names, as grub-mkrescue's) of a /boot with a signed manifest of two files. */
function makeIso(name: string, keyPem: string, change?: (boot: string) => void): string {
  const root = join(work, `${name}-root`), boot = join(root, "boot");
  mkdirSync(join(boot, "grub"), { recursive: true });
  writeFileSync(join(boot, "vmlinuz"), Buffer.alloc(300_000, 7));
  // Longer than 8.3 and mixed content: the name must come back whole from Rock Ridge.
  writeFileSync(join(boot, "initramfs.zst"), Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));
  // An extension too: the slot takes it because the manifest lists it.
  writeFileSync(join(boot, "etcd.ext"), Buffer.alloc(7000, 3));
  writeBootManifest(boot, ["vmlinuz", "initramfs.zst", "etcd.ext"], keyPem, { version: name });
  change?.(boot);
  const iso = join(work, `${name}.iso`);
  const r = Bun.spawnSync(["xorriso", "-as", "mkisofs", "-R", "-V", "BUNKER", "-o", iso, root], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`xorriso: ${r.stderr.toString()}`);
  return iso;
}

test.skipIf(!have)("the boot files come out of an ISO byte for byte, checked against their signed manifest", () => {
  const key = generateSigningKey();
  const iso = makeIso("good", key);
  expect(isBunkerIso(iso)).toBe(true);
  const img = new IsoImage(iso);
  try {
    expect(img.list("/boot").map((e) => e.name).sort()).toEqual(["etcd.ext", "grub", "initramfs.zst", "manifest.json", "manifest.sig", "vmlinuz"]);
  } finally { img.close(); }
  const out = join(work, "good-out");
  const said: string[] = [];
  copyBootFiles(iso, out, loadSigningKey(key).publicKey, (l) => said.push(l));
  // In the manifest's order (sorted by name).
  expect(said).toEqual(["copying etcd.ext (0.0 MB) from the boot medium", "copying initramfs.zst (0.0 MB) from the boot medium", "copying vmlinuz (0.3 MB) from the boot medium"]);
  for (const f of ["vmlinuz", "initramfs.zst", "etcd.ext"]) expect(readFileSync(join(out, f)).equals(readFileSync(join(work, "good-root/boot", f)))).toBe(true);
  const v = verifyImage(out, loadSigningKey(key).publicKey, { slotFilesOnly: true });
  expect(v.manifest.build.version).toBe("good");
  expect(v.slotFiles).toEqual(["vmlinuz", "initramfs.zst", "etcd.ext"]);
});

test.skipIf(!have)("a medium signed by another key, or missing a file its manifest names, is refused naming it", () => {
  const iso = makeIso("other", generateSigningKey());
  expect(() => copyBootFiles(iso, join(work, "other-out"), loadSigningKey(generateSigningKey()).publicKey, () => {})).toThrow(/boot medium .*other\.iso: .*signature/);
  const key = generateSigningKey();
  const short = makeIso("short", key, (boot) => rmSync(join(boot, "vmlinuz")));
  expect(() => copyBootFiles(short, join(work, "short-out"), loadSigningKey(key).publicKey, () => {})).toThrow("/boot/vmlinuz, named in its signed manifest, is missing");
});

test("what is not an ISO 9660 volume is refused, and is no boot medium", () => {
  const f = join(work, "zeros.img");
  writeFileSync(f, Buffer.alloc(64 * 1024));
  expect(isBunkerIso(f)).toBe(false);
  expect(() => new IsoImage(f)).toThrow(IsoError);
  expect(() => new IsoImage(f)).toThrow(`${f}: no ISO 9660 primary volume descriptor at sector 16`);
  writeFileSync(join(work, "tiny.img"), "x");
  expect(() => new IsoImage(join(work, "tiny.img"))).toThrow(/short read at byte 32768/);
});
