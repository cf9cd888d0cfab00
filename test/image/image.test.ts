/**
 * The built image: every file of the initramfs and the SquashFS against the allow-list; the Bun
 * binary stored once; two builds byte-identical; `bunker verify-image` catching a flipped byte.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listCpio, readCpioFile } from "../../core/image/cpio.ts";
import { sha256File } from "../../core/image/manifest.ts";
import { run } from "../../rootfs/build/tools.ts";
import { personalities } from "../../services/personalities.ts";
import { realBinary, repo, testImage } from "./fixture.ts";

let work = "";
let img = "";
let cpio: Buffer;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "image-test-"));
  img = await testImage(join(work, "a"), await realBinary());
  await run(["zstd", "-d", "-q", "-f", "-o", join(work, "initramfs.cpio"), join(img, "initramfs.zst")]);
  cpio = readFileSync(join(work, "initramfs.cpio"));
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
  test("the initramfs holds exactly the allow-listed files, all root-owned", () => {
    const got = listCpio(cpio).map((e) => {
      expect([e.path, e.uid, e.gid]).toEqual([e.path, 0, 0]);
      return `${KIND[e.mode & 0o170000] ?? "?"} ${e.path}`;
    });
    expect(got).toEqual(allowList("initramfs"));
    for (const line of got) expect(line).not.toMatch(FORBIDDEN);
  });

  test("the SquashFS holds exactly the allow-listed files plus one link per personality", async () => {
    const root = await squashfsListing(join(img, "rootfs.sqsh"));
    const links = personalities.map((p) => `l usr/bin/${p.name}`);
    const want = [...allowList("squashfs"), ...links].sort();
    expect(root.map((e) => `${e.kind} ${e.path}`).sort()).toEqual(want);
    for (const e of root) {
      expect(`${e.kind} ${e.path}`).not.toMatch(FORBIDDEN);
      if (e.path.startsWith("usr/bin/") && e.kind === "l") expect(e.target).toBe("bunker");
    }
  });

  test("the Bun binary is stored once: in the initramfs; the SquashFS has empty placeholders", async () => {
    const bin = readCpioFile(cpio, "usr/bin/bunker")!;
    expect(bin.byteLength).toBe(statSync(await realBinary()).size);
    const root = await squashfsListing(join(img, "rootfs.sqsh"));
    for (const p of ["usr/bin/bunker", "lib/x86_64-linux-gnu/libc.so.6", "lib64/ld-linux-x86-64.so.2"]) {
      expect(root.find((e) => e.path === p)?.size).toBe(0);
    }
    // The SquashFS is small because it does not carry the binary: what it holds is the install
    // tools and GRUB images (about 2 MB before compression).
    expect(statSync(join(img, "rootfs.sqsh")).size).toBeLessThan(2_000_000);
    // The signed root manifest names those files as the ones init binds.
    const m = JSON.parse(Buffer.from(readCpioFile(cpio, "boot/rootfs.manifest.json")!).toString());
    expect(m.binds).toContain("usr/bin/bunker");
    expect(m.artifacts[0].sha256).toBe(sha256File(join(img, "rootfs.sqsh")));
  });

  test("os-release and the service users", async () => {
    await run(["unsquashfs", "-q", "-d", join(work, "root"), join(img, "rootfs.sqsh"), "etc"]);
    expect(readFileSync(join(work, "root/etc/os-release"), "utf8")).toContain('NAME="Bunker"');
    const users = readFileSync(join(work, "root/etc/passwd"), "utf8").split("\n").filter(Boolean).map((l) => l.split(":")[0]);
    expect(users).toEqual(["root", "apid", "trustd", "networkd", "dashboard", "nobody"]);
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
      expect(files).toEqual(["boot.ipxe", "bunker.iso", "image.pub", "initramfs.zst", "manifest.json", "manifest.sig", "rootfs.sqsh", "vmlinuz"]);
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
