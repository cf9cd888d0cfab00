/**
 * The boot stage that leaves the initramfs for the read-only root. Runs in PID 1 right after the
 * pre-init shim has mounted /proc, /sys and /dev:
 *   1. check the root manifest's Ed25519 signature against the public key built into the image,
 *   2. check the SquashFS's size and SHA-256 against it, BEFORE mounting anything from it,
 *   3. loop-attach it read-only (LOOP_CONFIGURE) and mount it on /newroot,
 *   4. bind-mount the binary, its loader and libraries (stored once, in the initramfs) onto their
 *      empty placeholders inside it, read-only,
 *   5. move /proc, /sys and /dev into it and switch root (MS_MOVE of /newroot onto /, chroot).
 * Any failure throws an Error that says which step and why; the caller logs it and reboots.
 */
import { readFileSync } from "node:fs";
import { IMAGE_PUBLIC_KEY, NEW_ROOT, ROOT_IMAGE, ROOT_MANIFEST, ROOT_SIGNATURE } from "../../../core/image/layout.ts";
import { checkArtifacts, openManifest, parsePublicKey, type Manifest } from "../../../core/image/manifest.ts";
import { check, cstr, libc } from "../../../core/sys/libc.ts";
import { attachLoop } from "../../../core/sys/loop.ts";
import { MS, mountFs } from "../../../core/sys/mount.ts";

/** Where the initramfs keeps the root and its proof; the defaults are what rootfs/build writes. */
export interface EnterRootOptions {
  /** Directory of the initramfs holding the files below (default "/"). */
  base?: string;
  manifest?: string;
  signature?: string;
  publicKey?: string;
  /** Mount point of the new root inside the initramfs. */
  newRoot?: string;
  /** Called with one line per step, for the console. */
  log?: (line: string) => void;
  /** Stop after mounting and binding (tests on a host must not chroot their own process). */
  noSwitch?: boolean;
}

/** Steps 1 and 2: returns the verified manifest; throws saying what does not match. */
export function verifyRoot(base: string, opts: EnterRootOptions = {}): Manifest {
  const at = (p: string) => `${base.replace(/\/$/, "")}/${p}`;
  const manifestPath = at(opts.manifest ?? ROOT_MANIFEST);
  const keyText = readFileSync(at(opts.publicKey ?? IMAGE_PUBLIC_KEY), "utf8");
  let m: Manifest;
  try {
    m = openManifest(readFileSync(manifestPath), readFileSync(at(opts.signature ?? ROOT_SIGNATURE), "utf8"), parsePublicKey(keyText));
  } catch (e) {
    throw new Error(`root manifest ${manifestPath}: ${(e as Error).message}`);
  }
  if (!m.artifacts.some((a) => a.name === ROOT_IMAGE)) throw new Error(`root manifest ${manifestPath} does not list ${ROOT_IMAGE}`);
  const bad = checkArtifacts(m, at);
  if (bad.length > 0) {
    throw new Error(`root image does not match its signed manifest, refusing to mount it: ${bad.map((b) => `${b.name}: ${b.problem}`).join("; ")}`);
  }
  return m;
}

/** Runs the whole stage (see the file comment). Returns the verified root manifest. */
export function enterRoot(opts: EnterRootOptions = {}): Manifest {
  const log = opts.log ?? (() => {});
  const base = opts.base ?? "/";
  const at = (p: string) => `${base.replace(/\/$/, "")}/${p.replace(/^\//, "")}`;
  const newRoot = at(opts.newRoot ?? NEW_ROOT);

  const m = verifyRoot(base, opts);
  const root = m.artifacts.find((a) => a.name === ROOT_IMAGE)!;
  log(`root verified: ${ROOT_IMAGE} sha256 ${root.sha256.slice(0, 16)}... signed by ${m.publicKey}`);

  const loop = attachLoop(at(ROOT_IMAGE), { readOnly: true, autoclear: true });
  try {
    mountFs(loop.device, newRoot, "squashfs", MS.RDONLY | MS.NODEV | MS.NOSUID);
  } finally {
    loop.release();
  }
  log(`root mounted: ${loop.device} read-only on ${newRoot}`);

  for (const rel of m.binds ?? []) {
    const target = `${newRoot}/${rel}`;
    mountFs(at(rel), target, null, MS.BIND);
    mountFs(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV | MS.NOSUID);
  }
  log(`bound ${(m.binds ?? []).length} file(s) from the initramfs: ${(m.binds ?? []).join(" ")}`);
  if (opts.noSwitch) return m;

  for (const fs of ["/proc", "/sys", "/dev"]) mountFs(fs, `${newRoot}${fs}`, null, MS.MOVE);
  const c = libc();
  check("chdir", c.chdir(cstr(newRoot)), newRoot);
  mountFs(newRoot, "/", null, MS.MOVE);
  check("chroot", c.chroot(cstr(".")), newRoot);
  check("chdir", c.chdir(cstr("/")), "/");
  log("switched root: / is the read-only SquashFS");
  return m;
}
