/** `bunker diag` readers of /proc, /sys and /dev/kmsg, run as the compiled binary and checked against the kernel. */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { discoverDisks } from "../../core/disks/disk.ts";

const binary = join(resolve(import.meta.dir, "../.."), "out/bunker");
const built = existsSync(binary);
const json = (...a: string[]) => {
  const p = Bun.spawnSync([binary, "diag", ...a, "-o", "json"], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`diag ${a.join(" ")}: exit ${p.exitCode}: ${p.stderr.toString()}`);
  return JSON.parse(p.stdout.toString());
};

test.skipIf(!built)("ps, mounts, memory and disks agree with the kernel", () => {
  const ps = json("ps") as { pid: number; ppid: number; args: string }[];
  expect(ps.find((p) => p.pid === process.pid)?.ppid).toBe(process.ppid);
  expect(ps.some((p) => p.ppid === process.pid && p.args.includes("diag ps"))).toBe(true); // the diag process itself
  expect((json("mounts") as { target: string }[]).some((m) => m.target === "/")).toBe(true);
  const mem = (json("memory") as { total: number }[])[0]!;
  expect(mem.total).toBe(Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024);
  expect((json("disks") as { name: string }[]).map((d) => d.name)).toEqual(discoverDisks().map((d) => d.name));
});

test.skipIf(!built)("netstat finds a socket this test listens on, with this process as its owner", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const rec = (json("netstat") as { localPort: number; state: string; pid: number }[]).find((r) => r.localPort === port);
    expect(rec).toMatchObject({ state: "LISTEN", pid: process.pid });
  } finally {
    server.close();
  }
});

test.skipIf(!built || process.getuid?.() !== 0)("dmesg reads the kernel log (root: kernel.dmesg_restrict)", () => {
  const recs = json("dmesg") as { seq: number; message: string }[];
  expect(recs.length).toBeGreaterThan(0);
  const table = Bun.spawnSync([binary, "diag", "dmesg"]).stdout.toString();
  expect(table.split("\n")[0]).toMatch(/^TIME\s+LEVEL\s+MESSAGE$/);
});
