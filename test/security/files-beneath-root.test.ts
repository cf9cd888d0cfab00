/**
 * Finding 9 (files): List and Read checked a resolved path, then opened the path again, under
 * roots that include world-writable /tmp, so a symlink swapped in between led outside the roots.
 * Now the file is opened beneath its root in one step (openat2 RESOLVE_BENEATH) and read or
 * listed through that descriptor. The race: a separate process swaps a name under /tmp between
 * a plain file and a symlink to a secret outside the root, as fast as it can, while this one
 * reads (and lists) it in a bounded loop; the secret must never come back.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BunkerError } from "../../core/errors.ts";
import { listFiles, readFile } from "../../services/init/api/files.ts";

setDefaultTimeout(120_000);

// Under /tmp on purpose: the world-writable root the node serves.
const base = mkdtempSync("/tmp/bunker-files-race-");
const root = join(base, "root");
const outside = join(base, "outside");
const SECRET = "the secret outside the root\n";
const INSIDE = "an ordinary file inside the root\n";

beforeAll(() => {
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), SECRET);
  mkdirSync(join(outside, "dir"));
  writeFileSync(join(outside, "dir", "secret-entry"), SECRET);
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "f"), INSIDE);
  writeFileSync(join(root, "plain"), INSIDE);
  symlinkSync(join(outside, "secret"), join(root, "abs-out"));
  symlinkSync("../outside/secret", join(root, "rel-out"));
  symlinkSync("sub/f", join(root, "rel-in"));
  symlinkSync(join(outside, "dir"), join(root, "dir-out"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const read = async (path: string, roots = [root]) => {
  let text = "";
  for await (const chunk of readFile(path, roots)) text += Buffer.from(chunk).toString();
  return text;
};
const failure = (p: Promise<unknown>) => p.then(() => "no error", (e) => (e instanceof BunkerError ? e.code : `not a BunkerError: ${e}`));

test("plain files and symlinks that stay inside the root are read", async () => {
  expect(await read(join(root, "plain"))).toBe(INSIDE);
  expect(await read(join(root, "rel-in"))).toBe(INSIDE);
});

test("a symlink inside the root that points outside is refused, relative or absolute", async () => {
  for (const name of ["abs-out", "rel-out"]) expect(await failure(read(join(root, name)))).toBe("permission_denied");
  expect(await failure(Array.fromAsync(listFiles(join(root, "dir-out"), [root])))).toBe("permission_denied");
});

test("an absolute symlink to a file under another root is judged as that path", async () => {
  // As on a node: /etc/hostname -> /system/etc/hostname, both roots.
  expect(await read(join(root, "abs-out"), [root, outside])).toBe(SECRET);
  expect(await failure(read(join(root, "abs-out"), [root]))).toBe("permission_denied");
});

test("a listing shows symlinks as links and does not descend into them", async () => {
  const got = await Array.fromAsync(listFiles(root, [root], { recurse: true }));
  const byRel = new Map(got.map((e) => [e.relativeName, e]));
  expect(byRel.get(".")?.isDir).toBe(true);
  expect(byRel.get("sub/f")?.size).toBe(INSIDE.length);
  expect(byRel.get("rel-in")?.link).toBe("sub/f");
  expect(byRel.get("dir-out")?.link).toBe(join(outside, "dir"));
  expect(got.some((e) => e.name.includes("secret-entry"))).toBe(false);
  expect(got.every((e) => e.name.startsWith(root) && e.error === "")).toBe(true);
});

test("a FIFO is not read (it would block init)", async () => {
  const fifo = join(root, "fifo");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  expect(await failure(read(fifo))).toBe("invalid_argument");
  rmSync(fifo);
});

test("`..` components are refused, even when they would stay inside", async () => {
  expect(await failure(read(`${root}/sub/../plain`))).toBe("invalid_argument");
  expect(await failure(read(`${root}/../outside/secret`))).toBe("invalid_argument");
  expect(await failure(Array.fromAsync(listFiles(`${root}/sub/..`, [root])))).toBe("invalid_argument");
});

/** A child process that swaps `name` between a plain file and a symlink to `target`, for `ms`. */
function swapper(name: string, target: string, kind: "file" | "dir", ms: number) {
  const script = `
    const fs = require("node:fs");
    const [name, target, kind, ms] = process.argv.slice(-4);
    const real = name + ".real", link = name + ".link";
    const end = Date.now() + Number(ms);
    let n = 0;
    while (Date.now() < end && n < 5_000_000) {
      try {
        if (kind === "dir") {
          // A directory cannot be renamed over a symlink: swap in steps instead.
          try { fs.unlinkSync(name); } catch {}
          try { fs.mkdirSync(name); fs.writeFileSync(name + "/inside-entry", "x"); } catch {}
          try { fs.rmSync(name, { recursive: true, force: true }); } catch {}
          try { fs.symlinkSync(target, name); } catch {}
        } else {
          fs.writeFileSync(real, ${JSON.stringify(INSIDE)});
          fs.renameSync(real, name);
          try { fs.unlinkSync(link); } catch {}
          fs.symlinkSync(target, link);
          fs.renameSync(link, name);
        }
        n++;
      } catch {}
    }
    console.log(n);
  `;
  return Bun.spawn([process.execPath, "-e", script, name, target, kind, String(ms)], { stdout: "pipe", stderr: "ignore" });
}

test("a symlink swapped in while reading never yields the outside file", async () => {
  const name = join(root, "racy");
  const proc = swapper(name, join(outside, "secret"), "file", 4000);
  const seen = { inside: 0, refused: 0, secret: 0, other: 0 };
  const deadline = Date.now() + 4000;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    try {
      const text = await read(name);
      if (text === SECRET) seen.secret++;
      else if (text === INSIDE) seen.inside++;
      else seen.other++;
    } catch {
      seen.refused++;
    }
  }
  await proc.exited;
  const swaps = Number(await new Response(proc.stdout).text());
  expect(swaps).toBeGreaterThan(0);
  expect(seen.inside + seen.refused).toBeGreaterThan(0);
  console.error(`read race: ${swaps} swaps, ${JSON.stringify(seen)}`);
  expect(seen.secret).toBe(0);
});

test("a directory swapped for a symlink while listing never lists the outside directory", async () => {
  const name = join(root, "racydir");
  const proc = swapper(name, join(outside, "dir"), "dir", 4000);
  let leaked = 0;
  let lists = 0;
  const deadline = Date.now() + 4000;
  for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
    try {
      for await (const e of listFiles(name, [root], { recurse: true })) if (e.name.includes("secret-entry")) leaked++;
      lists++;
    } catch { /* refused or raced away: fine */ }
  }
  await proc.exited;
  expect(Number(await new Response(proc.stdout).text())).toBeGreaterThan(0);
  expect(lists).toBeGreaterThan(0);
  console.error(`list race: ${lists} listings, ${leaked} leaked entries`);
  expect(leaked).toBe(0);
});

test("magic links (/proc/self/root, /proc/self/fd) are not followed", async () => {
  expect(await failure(read("/proc/self/root/etc/hostname", ["/proc"]))).toBe("permission_denied");
  expect(await failure(read("/proc/self/cwd/package.json", ["/proc"]))).toBe("permission_denied");
});
