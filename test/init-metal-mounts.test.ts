/**
 * The metal-mode mounts, run in a private mount namespace (`unshare --mount`) so the host's
 * mounts are untouched: tmpfs /run, /tmp and /system (with its folders), /dev/shm and /dev/pts.
 * The rest of metal mode (sysctls, cgroups, power) changes the whole kernel and is exercised only
 * in a VM. Needs root.
 */
import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = process.getuid?.() === 0;
const unshare = Bun.which("unshare");

test.skipIf(!root || !unshare)("mountLate mounts the writable tmpfs places in a private mount namespace (needs root)", async () => {
  const hadSystem = existsSync("/system");
  const mod = resolve(import.meta.dir, "../services/init/pid1.ts");
  const script = `import { mountLate } from ${JSON.stringify(mod)};
    import { readFileSync, statSync } from "node:fs";
    mountLate();
    const m = readFileSync("/proc/self/mounts", "utf8").split("\\n").map((l) => l.split(" "));
    const fs = (t) => m.filter((x) => x[1] === t).map((x) => x[2] + " " + x[3]).at(-1);
    console.log(JSON.stringify({ run: fs("/run"), tmp: fs("/tmp"), system: fs("/system"), shm: fs("/dev/shm"), pts: fs("/dev/pts"),
      state: statSync("/system/state").isDirectory(), tmpMode: (statSync("/tmp").mode & 0o7777).toString(8) }));`;
  const p = Bun.spawn([unshare!, "--mount", "--propagation", "private", process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  if (!hadSystem && existsSync("/system")) rmdirSync("/system"); // the mount point it had to create on the host
  expect({ code, err }).toEqual({ code: 0, err: "" });
  const r = JSON.parse(out);
  expect(r.run).toStartWith("tmpfs rw,nosuid,nodev");
  expect(r.tmp).toStartWith("tmpfs rw,nosuid,nodev,noexec");
  expect(r.tmp).toContain("size=65536k");
  expect(r.system).toStartWith("tmpfs rw,nosuid,nodev");
  expect(r.shm).toStartWith("tmpfs");
  expect(r.pts).toStartWith("devpts");
  expect(r.state).toBe(true);
  expect(r.tmpMode).toBe("1777");
}, 20_000);

test.skipIf(!root || !unshare)("without an install disk /var is a tmpfs (etcd's data lives as long as the machine runs)", async () => {
  const mod = resolve(import.meta.dir, "../services/init/machine/volumes.ts");
  const dir = mkdtempSync(join(tmpdir(), "var-"));
  const script = `import { mountVar } from ${JSON.stringify(mod)};
    import { readFileSync } from "node:fs";
    const said = [];
    const mountedDisk = mountVar({}, { add: (k, m) => said.push(m) }, ${JSON.stringify(dir)});
    const again = mountVar({}, { add: (k, m) => said.push(m) }, ${JSON.stringify(dir)});
    const m = readFileSync("/proc/self/mounts", "utf8").split("\\n").map((l) => l.split(" ")).filter((x) => x[1] === ${JSON.stringify(dir)});
    console.log(JSON.stringify({ mountedDisk, again, mounts: m.map((x) => x[2] + " " + x[3]), said }));`;
  const p = Bun.spawn([unshare!, "--mount", "--propagation", "private", process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  rmSync(dir, { recursive: true, force: true });
  expect({ code, err: err.split("\n").filter((l) => !l.includes("var: no install disk")).join("") }).toEqual({ code: 0, err: "" });
  const r = JSON.parse(out);
  expect(r.mountedDisk).toBe(false);
  expect(r.again).toBe(false);
  // Mounted once, not stacked by the second call.
  expect(r.mounts).toHaveLength(1);
  expect(r.mounts[0]).toStartWith("tmpfs rw,nosuid,nodev");
  expect(r.said).toEqual([]);
}, 20_000);
