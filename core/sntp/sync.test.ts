/** SNTP against servers on loopback: a tiny one in the test (exact offsets) and chronyd when installed. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseServer, querySntp, TimeSync, type ClockAdjuster } from "./client.ts";
import { decodeReply, encodeReply, encodeRequest, fromNtp, SntpError, toNtp } from "./packet.ts";
import { readKernelClock } from "../sys/clock.ts";
import { eventually } from "../../test/lib/eventually.ts";

/** A loopback SNTP server whose clock runs `skewMs` ahead of ours. */
async function fakeServer(skewMs: number, opts: { stratum?: number } = {}) {
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(s, buf, port, addr) {
        const now = performance.timeOrigin + performance.now() + skewMs;
        s.send(encodeReply(new Uint8Array(buf), now, now, opts.stratum ?? 1), port, addr);
      },
    },
  });
  return { addr: `127.0.0.1:${sock.port}`, close: () => sock.close() };
}

class Recorder implements ClockAdjuster {
  actions: [string, number][] = [];
  step(ms: number) { this.actions.push(["step", ms]); }
  slew(ms: number) { this.actions.push(["slew", ms]); }
}

describe("SNTP packets", () => {
  test("NTP timestamps round-trip to the sub-millisecond", () => {
    const dv = new DataView(new ArrayBuffer(8));
    const t = 1795000000123.456;
    toNtp(t, dv, 0);
    expect(Math.abs(fromNtp(dv, 0) - t)).toBeLessThan(0.001);
  });

  test("offset and delay follow RFC 4330 from the four timestamps", () => {
    const req = encodeRequest(1000); // T1
    const reply = encodeReply(req, 1510, 1520); // T2, T3 on a clock 500 ms ahead, 10 ms processing
    const s = decodeReply(reply, req, 1050); // T4
    expect(s.offsetMs).toBeCloseTo(490, 3);
    expect(s.delayMs).toBeCloseTo(40, 3);
  });

  test("replies that do not answer us, kisses of death and unsynchronised servers are refused", () => {
    const req = encodeRequest(1000);
    expect(() => decodeReply(encodeReply(encodeRequest(999), 1, 2), req, 3)).toThrow("origin mismatch");
    expect(() => decodeReply(encodeReply(req, 1, 2, 0), req, 3)).toThrow("kiss-of-death");
    expect(() => decodeReply(new Uint8Array(10), req, 3)).toThrow(SntpError);
    const unsync = encodeReply(req, 1, 2);
    unsync[0] = unsync[0]! | 0xc0;
    expect(() => decodeReply(unsync, req, 3)).toThrow("not synchronised");
  });

  test("server strings", () => {
    expect(parseServer("pool.ntp.org")).toEqual({ host: "pool.ntp.org", port: 123 });
    expect(parseServer("127.0.0.1:1123")).toEqual({ host: "127.0.0.1", port: 1123 });
    expect(parseServer("[::1]:1123")).toEqual({ host: "::1", port: 1123 });
    expect(parseServer("fd00::1")).toEqual({ host: "fd00::1", port: 123 });
  });
});

describe("TimeSync with a loopback server", () => {
  test("far off: the clock is stepped by the measured offset", async () => {
    const srv = await fakeServer(5000);
    const clock = new Recorder();
    const sync = new TimeSync({ servers: [srv.addr], clock });
    const st = await sync.pollOnce();
    srv.close();
    expect(st.synced).toBe(true);
    expect(st.action).toBe("step");
    expect(clock.actions.length).toBe(1);
    expect(clock.actions[0]![0]).toBe("step");
    expect(Math.abs(clock.actions[0]![1] - 5000)).toBeLessThan(50);
  });

  test("near: the clock is slewed, not stepped", async () => {
    const srv = await fakeServer(120);
    const clock = new Recorder();
    const st = await new TimeSync({ servers: [srv.addr], clock }).pollOnce();
    srv.close();
    expect(st.action).toBe("slew");
    expect(Math.abs(clock.actions[0]![1] - 120)).toBeLessThan(50);
  });

  test("a dead server is skipped for the next one; waitSynced resolves once synced", async () => {
    const dead = await Bun.udpSocket({ hostname: "127.0.0.1" }); // bound, never answers
    const srv = await fakeServer(2000);
    const sync = new TimeSync({ servers: [`127.0.0.1:${dead.port}`, srv.addr], clock: new Recorder(), queryTimeoutMs: 300 });
    const waiting = sync.waitSynced(5000);
    sync.start();
    expect(await waiting).toBe(true);
    expect(sync.status.server).toBe(srv.addr);
    await sync.stop();
    dead.close();
    srv.close();
  });

  test("no server answers: waitSynced gives up at its timeout with synced false and the reason kept", async () => {
    const dead = await Bun.udpSocket({ hostname: "127.0.0.1" });
    const sync = new TimeSync({ servers: [`127.0.0.1:${dead.port}`], clock: new Recorder(), queryTimeoutMs: 200, retryMs: 100 });
    sync.start();
    expect(await sync.waitSynced(700)).toBe(false);
    await sync.stop();
    dead.close();
    expect(sync.status.synced).toBe(false);
    expect(sync.status.lastError).toContain("no answer within 200 ms");
  });

  test("the kernel clock state is readable through adjtimex", () => {
    const k = readKernelClock();
    expect(k.state).toBeGreaterThanOrEqual(0);
    expect(typeof k.synced).toBe("boolean");
  });
});

const chronyd = Bun.which("chronyd") ?? (Bun.file("/usr/sbin/chronyd").size > 0 ? "/usr/sbin/chronyd" : null);
describe.skipIf(!chronyd || process.getuid?.() !== 0)(`chronyd as the server${chronyd ? "" : " (skipped: chronyd not installed)"}${process.getuid?.() === 0 ? "" : " (skipped: chronyd needs root to start)"}`, () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-chrony-"));
  const port = 20000 + (process.pid % 20000);
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  afterAll(async () => {
    proc?.kill();
    await proc?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  test("a query to chronyd (local stratum 1, loopback) yields a small offset", async () => {
    writeFileSync(join(dir, "chrony.conf"), [
      `port ${port}`, "bindaddress 127.0.0.1", "allow 127.0.0.1", "local stratum 1", "cmdport 0",
      `pidfile ${join(dir, "pid")}`, `driftfile ${join(dir, "drift")}`, "",
    ].join("\n"));
    // -x: never touch this machine's clock; -d: foreground, log to stderr.
    proc = Bun.spawn([chronyd!, "-x", "-d", "-f", join(dir, "chrony.conf")], { stdout: "pipe", stderr: "pipe" });
    let sample: Awaited<ReturnType<typeof querySntp>> | undefined;
    let lastErr = "";
    // Until chronyd listens, a query fails.
    await eventually(async () => {
      try {
        sample = await querySntp(`127.0.0.1:${port}`, 300);
      } catch (e) {
        lastErr = (e as Error).message;
      }
      return sample !== undefined;
    }, 6000);
    if (!sample) throw new Error(`chronyd never answered: ${lastErr}`);
    expect(sample.stratum).toBe(1); // chronyd serves its `local stratum 1`
    expect(Math.abs(sample!.offsetMs)).toBeLessThan(100);
  }, 15000);
});
