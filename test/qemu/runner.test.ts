import { describe, expect, test } from "bun:test";
import { freePort, haveQemu, qemuArgs, withQemu, type Qemu } from "./runner.ts";

describe("QEMU runner", () => {
  test("arguments: TCG, -cpu max, serial on stdio, no reboot, hostfwd on 127.0.0.1, TFTP boot", () => {
    const a = qemuArgs({ kernel: "k", initrd: "i", append: "console=ttyS0", hostfwd: [{ host: 50001, guest: 50000 }], memoryMiB: 384 });
    expect(a.join(" ")).toContain("-accel tcg -cpu max -m 384");
    expect(a).toContain("-no-reboot");
    expect(a.join(" ")).toContain("-serial stdio");
    expect(a.join(" ")).toContain("user,id=n0,hostfwd=tcp:127.0.0.1:50001-:50000");
    const t = qemuArgs({ tftp: { dir: "d", bootfile: "boot.ipxe" } }).join(" ");
    expect(t).toContain("user,id=n0,tftp=d,bootfile=boot.ipxe");
    expect(t).toContain("-boot n");
  });

  test("freePort gives a bindable loopback port", async () => {
    const port = await freePort();
    const s = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    expect(s.port).toBe(port);
    s.stop(true);
  });

  test.skipIf(!haveQemu())("a marker that never comes times out with the console in the error, and QEMU is killed", async () => {
    let q: Qemu | undefined;
    // -S: the CPU never starts, so nothing is printed.
    const err = await withQemu({ extraArgs: ["-S"] }, async (qq) => {
      q = qq;
      return qq.waitFor("NEVER", 1500).then(() => null, (e: Error) => e);
    });
    expect(err?.message).toContain("no 'NEVER' on the console within 1500 ms");
    expect(q!.exitCode).not.toBeNull(); // withQemu killed it and waited for the exit
  }, 30_000);
});
