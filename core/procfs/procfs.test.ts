import { expect, test } from "bun:test";
import { accessSync, constants, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { parseCpuinfo, readCpus } from "./cpuinfo.ts";
import { parseKmsgRecord, readKmsg } from "./kmsg.ts";
import { parseLoadavg, parseMeminfo, readLoadAvg, readMemory } from "./meminfo.ts";
import { parseMounts, readMounts } from "./mounts.ts";
import { decodeAddress, parseNetTable, readNetstat } from "./netstat.ts";
import { parseStat, readProcesses, threadCpuSeconds } from "./processes.ts";
import { busySeconds, parseSystemStat, readSystemStat } from "./systemstat.ts";

test("meminfo: kB become bytes, every line kept", () => {
  const m = parseMeminfo("MemTotal:       16303088 kB\nMemFree:          123 kB\nHugePages_Total:       0\n");
  expect(m).toMatchObject({ total: 16303088 * 1024, free: 123 * 1024, available: 0 });
  expect(m.raw).toEqual({ MemTotal: 16303088 * 1024, MemFree: 123 * 1024, HugePages_Total: 0 });
  const real = readMemory();
  expect(real.total).toBe(Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024);
});

test("loadavg", () => {
  expect(parseLoadavg("0.52 0.58 0.59 3/467 12345\n")).toEqual({ load1: 0.52, load5: 0.58, load15: 0.59, running: 3, total: 467, lastPid: 12345 });
  expect(() => parseLoadavg("nonsense")).toThrow("loadavg: unexpected format");
  expect(readLoadAvg().total).toBeGreaterThan(0);
});

test("stat: CPU ticks become seconds, in total and per CPU; the counters beside them", () => {
  const s = parseSystemStat([
    "cpu  100 2 30 4000 5 6 7 8 0 0", "cpu0 50 1 15 2000 2 3 3 4 0 0", "cpu1 50 1 15 2000 3 3 4 4 0 0",
    "intr 12345 1 2", "ctxt 999", "btime 1700000000", "processes 321", "procs_running 2", "procs_blocked 1", "softirq 1 2 3",
  ].join("\n"));
  expect(s.cpuTotal).toEqual({ user: 1, nice: 0.02, system: 0.3, idle: 40, iowait: 0.05, irq: 0.06, softIrq: 0.07, steal: 0.08 });
  expect(s.cpu.map((c) => c.idle)).toEqual([20, 20]);
  expect(s).toMatchObject({ bootTime: 1700000000, contextSwitches: 999, processesCreated: 321, processesRunning: 2, processesBlocked: 1 });
  expect(busySeconds(s.cpuTotal)).toBeCloseTo(1 + 0.02 + 0.3 + 0.06 + 0.07 + 0.08, 10);
  expect(() => parseSystemStat("intr 1\n")).toThrow('stat: no "cpu" line');
  const real = readSystemStat();
  expect(real.cpu.length).toBe(cpus().length);
  expect(real.bootTime).toBeLessThan(Date.now() / 1000);
});

test("cpuinfo: one entry per logical CPU, as the OS counts them", () => {
  const two = parseCpuinfo("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: X\ncpu MHz\t\t: 2000.5\nflags\t\t: fpu sse\n\nprocessor\t: 1\nflags\t: fpu\n");
  expect(two.map((c) => [c.processor, c.mhz, c.flags])).toEqual([[0, 2000.5, ["fpu", "sse"]], [1, 0, ["fpu"]]]);
  expect(readCpus().length).toBe(cpus().length);
});

test("processes: a command with spaces and parentheses; this process with its parent", () => {
  const s = parseStat("42 (a) (b c) S 7 42 42 0 -1 4194560 1 0 0 0 150 50 0 0 20 0 3 0 100 8192 10 18446744073709551615");
  expect(s).toMatchObject({ pid: 42, command: "a) (b c", state: "S", ppid: 7, cpuSeconds: 2, threads: 3, virtualMemory: 8192, residentMemory: 40960 });
  const me = readProcesses().find((p) => p.pid === process.pid)!;
  expect(me.ppid).toBe(process.ppid);
  expect(me.executable).toBe(process.execPath);
  expect(me.args).toContain("test");
  expect(me.residentMemory).toBeGreaterThan(0);
});

test("a thread's CPU time grows while it runs, and a thread that is not there has none", () => {
  // The main thread's id is the process id.
  const before = threadCpuSeconds(process.pid)!;
  const until = performance.now() + 100;
  while (performance.now() < until);
  expect(threadCpuSeconds(process.pid)!).toBeGreaterThan(before);
  expect(threadCpuSeconds(2 ** 30)).toBeUndefined();
});

test("mounts: octal escapes decoded; the root filesystem has a size", () => {
  expect(parseMounts("/dev/sda1 /mnt/my\\040disk ext4 rw,relatime 0 0\n")).toEqual([{ source: "/dev/sda1", target: "/mnt/my disk", fstype: "ext4", options: "rw,relatime" }]);
  const root = readMounts().find((m) => m.target === "/")!;
  expect(root.size).toBeGreaterThan(0);
});

test("netstat: addresses decoded; a listening socket of this process is found with its pid", async () => {
  expect(decodeAddress("0100007F")).toBe("127.0.0.1");
  expect(decodeAddress("00000000000000000000000001000000")).toBe("::1");
  expect(decodeAddress("0000000000000000FFFF00000100007F")).toBe("::ffff:127.0.0.1");
  expect(decodeAddress("B80D0120000000000000000001000000")).toBe("2001:db8::1");
  const row = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
  expect(parseNetTable("tcp", `header\n${row}\n`)[0]).toMatchObject({ localIp: "127.0.0.1", localPort: 8080, state: "LISTEN", rxQueue: 2, inode: 12345 });

  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (server.address() as { port: number }).port;
    const mine = readNetstat({ filter: "listening", protocols: ["tcp"], pid: true }).find((r) => r.localPort === port);
    expect(mine).toMatchObject({ protocol: "tcp", localIp: "127.0.0.1", state: "LISTEN", pid: process.pid });
    expect(readNetstat({ filter: "connected", protocols: ["tcp"] }).some((r) => r.localPort === port)).toBe(false);
  } finally {
    server.close();
  }
});

test("kmsg: records parsed; reading the real log needs CAP_SYSLOG (root)", async () => {
  expect(parseKmsgRecord("6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n")).toEqual({ seq: 339, facility: 0, priority: 6, monotonicUs: 5140900, message: "NET: Registered protocol family 10" });
  expect(parseKmsgRecord("30,1,2,-;a\\x20b")).toMatchObject({ facility: 3, priority: 6, message: "a b" });
  let readable = true;
  try { accessSync("/dev/kmsg", constants.R_OK); } catch { readable = false; }
  if (!readable || process.getuid?.() !== 0) { console.warn("kmsg: /dev/kmsg not readable here (needs root): skipping the live read"); return; }
  const tail = await Array.fromAsync(readKmsg({ tail: 3 }));
  expect(tail.length).toBeLessThanOrEqual(3);
  for (let i = 1; i < tail.length; i++) expect(tail[i]!.seq).toBeGreaterThan(tail[i - 1]!.seq);
});
