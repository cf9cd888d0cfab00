/**
 * Image extensions (core/image/layout.ts EXTENSIONS): the etcd extension carries etcd and
 * etcdctl from the build host's Debian packages (etcd-server, etcd-client, 3.4), which link only
 * against glibc and its loader, both already in the base root. Packed like the root: SquashFS
 * (reproducible), dm-verity hash tree appended, then a stored cpio archive of its own that the
 * bootloader loads before the base initramfs.
 */
import { existsSync, mkdirSync, realpathSync, writeFileSync, copyFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { writeCpio } from "../../core/image/cpio.ts";
import type { Extension } from "../../core/image/layout.ts";
import { appendVerity, squash, type RootCompression, type Verity } from "./rootfs.ts";
import { run } from "./tools.ts";

/** Where the etcd extension's programs come from, and where they go inside it. */
export const ETCD_PROGRAMS = [
  { image: "bin/etcd", source: "/usr/bin/etcd", pkg: "etcd-server" },
  { image: "bin/etcdctl", source: "/usr/bin/etcdctl", pkg: "etcd-client" },
] as const;

/** The version line etcd prints ("etcd Version: 3.4.23"), or "unknown". */
async function etcdVersion(binary: string): Promise<string> {
  const out = await run([binary, "--version"]).catch(() => "");
  return out.match(/^etcd Version:\s*(\S+)/m)?.[1] ?? "unknown";
}

/**
 * Builds `ext` into `work`: stages its programs (`programs` overrides where they come from, for
 * tests), makes the SquashFS and its hash tree, and writes the archive to `out`. Returns its
 * dm-verity parameters, for the pre-init archive.
 */
export async function buildEtcdExtension(ext: Extension, out: string, work: string, epoch: number, comp: RootCompression, programs: readonly { image: string; source: string; pkg: string }[] = ETCD_PROGRAMS): Promise<Verity> {
  const dir = join(work, `ext-${ext.name}`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  for (const p of programs) {
    if (!existsSync(p.source)) throw new Error(`extension ${ext.name}: ${p.source} is missing (apt-get install ${p.pkg}, or scripts/deps.sh apt)`);
    copyFileSync(realpathSync(p.source), join(dir, p.image));
    chmodSync(join(dir, p.image), 0o755);
  }
  const version = await etcdVersion(programs[0]!.source);
  writeFileSync(join(dir, "ext.json"), JSON.stringify({ name: ext.name, version }) + "\n");
  const sqsh = join(work, `${ext.name}.sqsh`);
  await squash(dir, sqsh, epoch, comp);
  const verity = await appendVerity(sqsh);
  writeCpio(out, [{ path: ext.image, type: "file", mode: 0o444, source: sqsh }], epoch);
  return verity;
}
