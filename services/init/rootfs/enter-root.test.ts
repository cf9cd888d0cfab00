import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFile, generateSigningKey, loadSigningKey, rawPublicKey, signManifest } from "../../../core/image/manifest.ts";
import { IMAGE_PUBLIC_KEY, ROOT_MANIFEST, ROOT_SIGNATURE } from "../../../core/image/layout.ts";
import { enterRoot, verifyRoot } from "./enter-root.ts";

const canMount = process.getuid?.() === 0;
let dirs: string[] = [];

afterEach(() => {
  for (const d of dirs) {
    // Unmount what a test mounted (binds first, then the root), then delete.
    for (const m of readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1] ?? "").filter((p) => p.startsWith(d)).reverse()) {
      Bun.spawnSync(["umount", m]);
    }
    rmSync(d, { recursive: true, force: true });
  }
  dirs = [];
});

/** A folder laid out like the initramfs: a SquashFS root with a placeholder, its signed manifest, the key, the payload file. */
function fakeInitramfs(opts: { tamper?: boolean; otherKey?: boolean } = {}): string {
  const base = mkdtempSync(join(tmpdir(), "enter-root-"));
  dirs.push(base);
  const tree = join(base, "tree");
  mkdirSync(join(tree, "etc"), { recursive: true });
  mkdirSync(join(tree, "usr/bin"), { recursive: true });
  writeFileSync(join(tree, "etc/os-release"), 'NAME="Bunker"\n');
  writeFileSync(join(tree, "usr/bin/bunker"), "");
  const mk = Bun.spawnSync(["mksquashfs", tree, join(base, "rootfs.sqsh"), "-quiet", "-noappend", "-comp", "zstd", "-all-root"]);
  if (mk.exitCode !== 0) throw new Error(mk.stderr.toString());
  mkdirSync(join(base, "usr/bin"), { recursive: true });
  writeFileSync(join(base, "usr/bin/bunker"), "the real binary");
  mkdirSync(join(base, "newroot"));
  mkdirSync(join(base, "boot"));
  mkdirSync(join(base, "etc/bunker"), { recursive: true });
  const key = generateSigningKey();
  const { json, sig } = signManifest("rootfs", {}, [describeFile("rootfs.sqsh", join(base, "rootfs.sqsh"))], key, { binds: ["usr/bin/bunker"] });
  writeFileSync(join(base, ROOT_MANIFEST), json);
  writeFileSync(join(base, ROOT_SIGNATURE), sig);
  const pub = loadSigningKey(opts.otherKey ? generateSigningKey() : key).publicKey;
  writeFileSync(join(base, IMAGE_PUBLIC_KEY), rawPublicKey(pub).toString("base64"));
  if (opts.tamper) {
    const img = readFileSync(join(base, "rootfs.sqsh"));
    img[200]! ^= 0xff;
    writeFileSync(join(base, "rootfs.sqsh"), img);
  }
  return base;
}

describe("enter-root stage", () => {
  test("verifyRoot accepts the signed root and names the mismatch of a tampered one", () => {
    expect(verifyRoot(fakeInitramfs()).artifacts[0]!.name).toBe("rootfs.sqsh");
    expect(() => verifyRoot(fakeInitramfs({ tamper: true }))).toThrow("root image does not match its signed manifest, refusing to mount it: rootfs.sqsh: sha256");
    expect(() => verifyRoot(fakeInitramfs({ otherKey: true }))).toThrow("signature does not match the trusted public key");
  });

  // Mounting needs root (loop devices, mount); CI runs as root. The switch itself (chroot) is
  // exercised by the QEMU boot tests: a test process must not chroot itself.
  test.skipIf(!canMount)("mounts the root read-only and binds the payload over its placeholder", () => {
    const base = fakeInitramfs();
    const lines: string[] = [];
    enterRoot({ base, noSwitch: true, log: (l) => lines.push(l) });
    expect(readFileSync(join(base, "newroot/etc/os-release"), "utf8")).toContain("Bunker");
    expect(readFileSync(join(base, "newroot/usr/bin/bunker"), "utf8")).toBe("the real binary");
    expect(() => writeFileSync(join(base, "newroot/usr/bin/bunker"), "x")).toThrow(/EROFS|read-only/i);
    expect(lines[0]).toStartWith("root verified: rootfs.sqsh sha256 ");
    expect(lines[1]).toMatch(/^root mounted: \/dev\/loop\d+ read-only on /);
    expect(lines[2]).toBe("bound 1 file(s) from the initramfs: usr/bin/bunker");
  });

  test.skipIf(!canMount)("a tampered root is never mounted", () => {
    const base = fakeInitramfs({ tamper: true });
    expect(() => enterRoot({ base, noSwitch: true })).toThrow("refusing to mount it");
    expect(readFileSync("/proc/self/mounts", "utf8")).not.toContain(join(base, "newroot"));
  });
});
