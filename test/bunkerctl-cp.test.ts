/**
 * `bunkerctl cp` against a real node (the compiled binary's init in container mode, whose one
 * readable root is its state folder, on this machine): a folder with nested folders, a file of several read chunks,
 * modes, an empty folder, a symlink and a FIFO; copied to a new folder, into an existing one, and
 * as a tar stream read back by the system's tar. Bytes, modes and times must match; what is not
 * a regular file or folder is skipped and named; a reader and a path outside the roots are refused.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSecrets } from "../core/secrets/secrets.ts";
import { type ContainerNode, ctl, TestCluster } from "./lib/remote-cluster.ts";
import { secretCluster } from "./lib/secret-cluster.ts";

const secrets = generateSecrets();
const cluster = new TestCluster(secrets.os);
chmodSync(cluster.dir, 0o711); // apid (uid 50 when init runs as root) reaches the state folders
let src = "";
const out = mkdtempSync(join(tmpdir(), "bunker-cp-out-"));
let node: ContainerNode;
let ep = "";
const configs: Record<string, string> = {};
const big = new Uint8Array(200_000).map((_, i) => (i * 131 + 7) & 0xff); // four Read chunks of 64 KiB
const when = new Date("2026-03-04T05:06:07Z");

beforeAll(async () => {
  const c = await secretCluster(cluster, secrets, "cp-file-secret");
  node = c.nodes[0]!;
  ep = c.ep.a;
  node.start();
  for (const role of ["admin", "reader"] as const) configs[role] = cluster.config(role, { client: cluster.client([`os:${role}`]) }, [ep], [ep]);
  const h = await ctl(configs.admin, "health", "--wait-timeout", "60s");
  if (h.code !== 0) throw new Error(`node not ready: ${h.out}${h.err}`);
  src = mkdtempSync(join(node.stateDir, "cp-src-"));
  mkdirSync(join(src, "sub/deeper"), { recursive: true });
  mkdirSync(join(src, "empty"));
  writeFileSync(join(src, "a.txt"), "hello\n", { mode: 0o640 });
  chmodSync(join(src, "a.txt"), 0o640);
  writeFileSync(join(src, "sub/b.bin"), big);
  chmodSync(join(src, "sub/b.bin"), 0o600);
  writeFileSync(join(src, "sub/deeper/c.txt"), "");
  symlinkSync("/etc/passwd", join(src, "link"));
  Bun.spawnSync(["mkfifo", join(src, "fifo")]);
  for (const f of ["a.txt", "sub/b.bin", "sub/deeper/c.txt", "sub/deeper", "sub", "empty", "."]) utimesSync(join(src, f), when, when);
}, 120_000);

afterAll(async () => {
  await node.stop();
  await cluster.close();
  rmSync(out, { recursive: true, force: true });
});

/** Every file and folder below `dir` with what must survive a copy: bytes, mode, mtime. */
function tree(dir: string, rel = ""): Record<string, string> {
  const o: Record<string, string> = {};
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    const st = statSync(join(dir, r));
    if (e.isDirectory()) { o[`${r}/`] = `${(st.mode & 0o777).toString(8)} ${st.mtime.toISOString()}`; Object.assign(o, tree(dir, r)); }
    else if (e.isFile()) o[r] = `${(st.mode & 0o777).toString(8)} ${st.mtime.toISOString()} ${Bun.hash(readFileSync(join(dir, r)))}`;
  }
  return o;
}

test("a folder to a new local folder: bytes, modes and times kept; the symlink and the FIFO skipped and named", async () => {
  const want = tree(src);
  delete want.link; delete want.fifo;
  expect(Object.keys(want).sort()).toEqual(["a.txt", "empty/", "sub/", "sub/b.bin", "sub/deeper/", "sub/deeper/c.txt"]);
  const dest = join(out, "copy");
  const r = await ctl(configs.admin, "cp", `${ep}:${src}`, dest);
  expect({ code: r.code, out: r.out, err: r.code ? r.err : "" }).toEqual({ code: 0, out: "", err: "" });
  expect(r.err).toContain(`skipped ${src}/link: a symlink (to /etc/passwd)`);
  expect(r.err).toContain(`skipped ${src}/fifo: not a regular file`);
  expect(r.err).toContain(`copied 3 files (195.3 KiB) and 4 folders from ${ep}:${src}; skipped 2`);
  expect(tree(dest)).toEqual(want);
  expect(statSync(dest).mtime.getTime()).toBe(when.getTime());
  expect(existsSync(join(dest, "link"))).toBe(false);
});

test("a file into an existing folder, and a folder as a tar stream", async () => {
  const into = join(out, "into");
  mkdirSync(into);
  const one = await ctl(configs.admin, "cp", `${ep}:${src}/sub/b.bin`, into);
  expect(one.code).toBe(0);
  expect(new Uint8Array(readFileSync(join(into, "b.bin")))).toEqual(big);
  expect(statSync(join(into, "b.bin")).mode & 0o777).toBe(0o600);

  const name = src.split("/").pop()!;
  const stream = Bun.spawnSync(["sh", "-c", `"$0" bunkerctl cp "$1" - | tar -xf - -C "$2"`, join(import.meta.dir, "../out/bunker"), `${ep}:${src}`, into], { env: { ...process.env, BUNKERCONFIG: configs.admin }, stderr: "pipe" });
  expect(stream.exitCode).toBe(0);
  const want = tree(src);
  delete want.link; delete want.fifo;
  expect(tree(join(into, name))).toEqual(want);
  const file = Bun.spawnSync(["sh", "-c", `"$0" bunkerctl cp "$1" - | tar -tvf -`, join(import.meta.dir, "../out/bunker"), `${ep}:${src}/a.txt`], { env: { ...process.env, BUNKERCONFIG: configs.admin }, stderr: "pipe" });
  expect(file.stdout.toString()).toMatch(/^-rw-r----- .* 6 2026-03-0\d \d\d:\d\d a\.txt\n$/);
});

test("refused: a reader (os:admin only), a path outside the node's roots, a source without NODE:", async () => {
  const reader = await ctl(configs.reader, "cp", `${ep}:${src}`, join(out, "r"));
  expect(reader.code).toBe(5);
  expect(reader.err).toContain("permission denied");
  expect(existsSync(join(out, "r"))).toBe(false);
  const outside = await ctl(configs.admin, "cp", `${ep}:/root`, join(out, "o"));
  expect(outside.code).toBe(5);
  expect(outside.err).toContain("/root is outside the readable roots");
  const bad = await ctl(configs.admin, "cp", src, join(out, "b"));
  expect(bad.code).toBe(2);
  expect(bad.err).toContain(`${src}: expected NODE:/PATH`);
});
