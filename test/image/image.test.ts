/**
 * The built image: every file of the initramfs's two archives and of the SquashFS against the
 * allow-list; the Bun binary stored once (in the SquashFS); the hash tree and root hash checked
 * by veritysetup; two builds byte-identical; `bunker verify-image` catching a flipped byte.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listCpio, readCpioFile } from "../../core/image/cpio.ts";
import { ETCD_EXTENSION, ROOT_VERITY } from "../../core/image/layout.ts";
import { sha256File } from "../../core/image/manifest.ts";
import { splitInitramfs } from "../../rootfs/build/initramfs.ts";
import { run } from "../../rootfs/build/tools.ts";
import { personalities } from "../../services/personalities.ts";
import { realBinary, repo, testImage } from "./fixture.ts";

let work = "";
let img = "";
let rootArchive: Uint8Array;
let preinit: Buffer;
let sqsh = "";

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "image-test-"));
  img = await testImage(join(work, "a"), await realBinary());
  const parts = splitInitramfs(readFileSync(join(img, "initramfs.zst")));
  rootArchive = parts.root;
  writeFileSync(join(work, "preinit.cpio.zst"), parts.preinitZst);
  await run(["zstd", "-d", "-q", "-f", "-o", join(work, "preinit.cpio"), join(work, "preinit.cpio.zst")]);
  preinit = readFileSync(join(work, "preinit.cpio"));
  sqsh = join(work, "rootfs.sqsh");
  writeFileSync(sqsh, readCpioFile(rootArchive, "rootfs.sqsh")!);
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function allowList(section: string): string[] {
  const text = readFileSync(join(import.meta.dir, "allow-list.txt"), "utf8");
  const body = text.split(`[${section}]`)[1]!.split(/^\[/m)[0]!;
  return body.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}

const KIND: Record<number, string> = { 0o040000: "d", 0o100000: "f", 0o120000: "l", 0o020000: "c" };
const FORBIDDEN = /(^|\/)(sh|bash|dash|ash|busybox|ssh|sshd|scp|login|su|sudo|ls|cat|cp|mv|rm|mount|python3?|perl)$/;

async function squashfsListing(file: string): Promise<{ kind: string; path: string; size: number; target?: string }[]> {
  // unsquashfs -lls: "drwxr-xr-x root/root 166 2026-01-01 00:00 squashfs-root/etc"
  const out = await run(["unsquashfs", "-lls", "-d", "R", file]);
  return out.split("\n").filter((l) => / R\//.test(l)).map((l) => {
    const f = l.trim().split(/\s+/);
    const kind = l[0] === "-" ? "f" : l[0]!;
    const pathField = l.slice(l.indexOf(" R/") + 3);
    const [path, target] = pathField.split(" -> ");
    return { kind, path: path!, size: Number(f[2]), target };
  });
}

describe("image contents", () => {
  test("the initramfs's two archives hold exactly the allow-listed files, all root-owned", () => {
    for (const [name, archive] of [["root-archive", rootArchive], ["preinit-archive", preinit]] as const) {
      const got = listCpio(archive).map((e) => {
        expect([e.path, e.uid, e.gid]).toEqual([e.path, 0, 0]);
        return `${KIND[e.mode & 0o170000] ?? "?"} ${e.path}`;
      });
      expect(got).toEqual(allowList(name));
      for (const line of got) expect(line).not.toMatch(FORBIDDEN);
    }
  });

  test("the SquashFS holds exactly the allow-listed files plus one link per personality", async () => {
    const root = await squashfsListing(sqsh);
    const links = personalities.map((p) => `l usr/bin/${p.name}`);
    const want = [...allowList("squashfs"), ...links].sort();
    expect(root.map((e) => `${e.kind} ${e.path}`).sort()).toEqual(want);
    for (const e of root) {
      expect(`${e.kind} ${e.path}`).not.toMatch(FORBIDDEN);
      if (e.path.startsWith("usr/bin/") && e.kind === "l") expect(e.target).toBe("bunker");
    }
  });

  test("the Bun binary is stored once: in the SquashFS, which is in no other artifact of the folder", async () => {
    const root = await squashfsListing(sqsh);
    expect(root.find((e) => e.path === "usr/bin/bunker")?.size).toBe(statSync(await realBinary()).size);
    expect(root.find((e) => e.path === "lib64/ld-linux-x86-64.so.2")!.size).toBeGreaterThan(100_000);
    expect(readdirSync(img)).not.toContain("rootfs.sqsh");
    // The pre-init archive is the shim and a few lines: small enough to sign or embed anywhere.
    expect(preinit.byteLength).toBeLessThan(64 * 1024);
  });

  test("the root hash in the pre-init archive is the hash tree's, and veritysetup verifies the whole SquashFS", async () => {
    const line = Buffer.from(readCpioFile(preinit, ROOT_VERITY)!).toString();
    const m = line.match(/^(\d+) (\d+) ([0-9a-f]{64}) ([0-9a-f]{64})\n$/)!;
    expect(m).not.toBeNull();
    const [blocks, hashStart, rootHash, salt] = [Number(m[1]), Number(m[2]), m[3]!, m[4]!];
    expect(hashStart).toBe(blocks);
    expect(statSync(sqsh).size).toBeGreaterThan(blocks * 4096); // the tree follows the data
    const verify = (hash: string) =>
      Bun.spawnSync(["veritysetup", "verify", "--no-superblock", `--data-blocks=${blocks}`, `--hash-offset=${hashStart * 4096}`, `--salt=${salt}`, sqsh, sqsh, hash]);
    expect(verify(rootHash).exitCode).toBe(0);
    const other = (rootHash[0] === "0" ? "1" : "0") + rootHash.slice(1);
    expect(verify(other).exitCode).not.toBe(0);
    // image.json in the root says which image it is (covered by the same root hash).
    await run(["unsquashfs", "-q", "-d", join(work, "info"), sqsh, "etc/bunker"]);
    expect(JSON.parse(readFileSync(join(work, "info/etc/bunker/image.json"), "utf8"))).toEqual({ version: "test", commit: "test", securityVersion: 0 });
    expect(readFileSync(join(work, "info/etc/bunker/image.pub"), "utf8")).toBe(readFileSync(join(img, "image.pub"), "utf8"));
  });

  test("the etcd extension: its own archive with etcd and etcdctl, signed in the manifest, its root hash in the pre-init archive", async () => {
    const archive = readFileSync(join(img, ETCD_EXTENSION.file));
    expect(listCpio(archive).map((e) => `${KIND[e.mode & 0o170000] ?? "?"} ${e.path}`)).toEqual(allowList("etcd-extension"));
    const ext = join(work, "etcd.sqsh");
    writeFileSync(ext, readCpioFile(archive, ETCD_EXTENSION.image)!);
    const listing = await squashfsListing(ext);
    expect(listing.map((e) => `${e.kind} ${e.path}`).sort()).toEqual(allowList("etcd-squashfs").sort());
    // The programs are the host's etcd 3.4 (they need only glibc, which the base root has).
    expect(listing.find((e) => e.path === "bin/etcd")!.size).toBe(statSync("/usr/bin/etcd").size);
    const m = Buffer.from(readCpioFile(preinit, ETCD_EXTENSION.verity)!).toString().match(/^(\d+) (\d+) ([0-9a-f]{64}) ([0-9a-f]{64})\n$/)!;
    expect(m).not.toBeNull();
    const verify = (hash: string) =>
      Bun.spawnSync(["veritysetup", "verify", "--no-superblock", `--data-blocks=${m[1]}`, `--hash-offset=${Number(m[2]) * 4096}`, `--salt=${m[4]}`, ext, ext, hash]).exitCode;
    expect(verify(m[3]!)).toBe(0);
    // The root's hash does not verify it: each has its own tree.
    const rootHash = Buffer.from(readCpioFile(preinit, ROOT_VERITY)!).toString().split(" ")[2]!;
    expect(verify(rootHash)).not.toBe(0);
    const manifest = JSON.parse(readFileSync(join(img, "manifest.json"), "utf8")) as { artifacts: { name: string; sha256: string }[] };
    expect(manifest.artifacts.find((a) => a.name === ETCD_EXTENSION.file)?.sha256).toBe(sha256File(join(img, ETCD_EXTENSION.file)));
  });

  test("os-release and the service users", async () => {
    await run(["unsquashfs", "-q", "-d", join(work, "root"), sqsh, "etc"]);
    expect(readFileSync(join(work, "root/etc/os-release"), "utf8")).toContain('NAME="Bunker"');
    const users = readFileSync(join(work, "root/etc/passwd"), "utf8").split("\n").filter(Boolean).map((l) => l.split(":")[0]);
    expect(users).toEqual(["root", "apid", "trustd", "networkd", "dashboard", "etcd", "nobody"]);
  });
});

describe("reproducibility", () => {
  test("two builds of the same inputs are byte-identical, with no build cache", async () => {
    const prev = process.env.BUNKER_NO_BUILD_CACHE;
    process.env.BUNKER_NO_BUILD_CACHE = "1";
    try {
      const b = await testImage(join(work, "b"), await realBinary());
      const files = readdirSync(img).sort();
      expect(readdirSync(b).sort()).toEqual(files);
      expect(files).toEqual(["boot.ipxe", "bunker.iso", "etcd.ext", "image.pub", "initramfs.zst", "manifest.json", "manifest.sig", "vmlinuz"]);
      for (const f of files) expect(`${f} ${sha256File(join(b, f))}`).toBe(`${f} ${sha256File(join(img, f))}`);
    } finally {
      if (prev === undefined) delete process.env.BUNKER_NO_BUILD_CACHE;
      else process.env.BUNKER_NO_BUILD_CACHE = prev;
    }
  }, 600_000);
});

describe("bunker verify-image (the compiled binary)", () => {
  const verify = (dir: string, ...args: string[]) => {
    const r = Bun.spawnSync([join(repo, "out/bunker"), "verify-image", dir, ...args]);
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  };

  test("accepts the image, with the key pinned too", () => {
    const r = verify(img, "--pubkey", join(img, "image.pub"));
    expect(r.out).toContain("verified: 6 artifact(s) match the signed manifest");
    expect(r.code).toBe(0);
  });

  test("names the artifact with a flipped byte", () => {
    const copy = join(work, "flipped");
    cpSync(img, copy, { recursive: true });
    const k = readFileSync(join(copy, "vmlinuz"));
    k[1000]! ^= 1;
    writeFileSync(join(copy, "vmlinuz"), k);
    const r = verify(copy);
    expect(r.code).toBe(1);
    expect(r.out).toContain("FAIL vmlinuz: sha256 ");
    expect(r.out).toContain("ok   initramfs.zst");
    expect(r.out).toContain("NOT verified: 1 mismatch(es)");
  });

  test("rejects an edited manifest and a foreign key", () => {
    const copy = join(work, "edited");
    cpSync(img, copy, { recursive: true });
    writeFileSync(join(copy, "manifest.json"), readFileSync(join(copy, "manifest.json"), "utf8").replace('"kind": "image"', '"kind": "imagE"'));
    expect(verify(copy).out).toContain("FAIL signature: manifest: signature does not match");
    const foreign = "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=";
    const r = verify(img, "--pubkey", Buffer.from(foreign, "base64").subarray(12).toString("base64"));
    expect(r.out).toContain("does not match the trusted public key");
    expect(r.code).toBe(1);
  });

  test("usage errors exit 2; -o json reports each artifact", () => {
    expect(Bun.spawnSync([join(repo, "out/bunker"), "verify-image"]).exitCode).toBe(2);
    const r = Bun.spawnSync([join(repo, "out/bunker"), "verify-image", img, "-o", "json"]);
    const j = JSON.parse(r.stdout.toString());
    expect(j.ok).toBe(true);
    expect(j.artifacts.length).toBe(6);
  });
});
