import { expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errnos, SysError } from "./libc.ts";
import { peerCred, getsockopt, SOL_SOCKET, SO_TYPE } from "./socket.ts";

/** The fd under a node:net socket in Bun (its native handle). */
function fdOf(s: net.Socket): number {
  return (s as unknown as { _handle: { fd: number } })._handle.fd;
}

test("SO_PEERCRED names this process at the other end of a unix socket", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bunker-sock-"));
  const path = join(dir, "s.sock");
  try {
    const got = await new Promise<ReturnType<typeof peerCred>>((resolve, reject) => {
      const srv = net.createServer((c) => {
        try { resolve(peerCred(fdOf(c))); } catch (e) { reject(e); }
        c.destroy();
        srv.close();
      });
      srv.listen(path, () => net.connect(path).on("error", () => {}));
    });
    expect(got).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("getsockopt names the fd and errno when the fd is not a socket or not open", () => {
  const catchErr = (fd: number): SysError => {
    try { getsockopt(fd, SOL_SOCKET, SO_TYPE, 4); } catch (e) { return e as SysError; }
    throw new Error(`getsockopt on fd ${fd} did not fail`);
  };
  const fd = openSync(import.meta.path, "r");
  try {
    const e = catchErr(fd);
    expect(e).toBeInstanceOf(SysError);
    expect(e.errno).toBe(88); // ENOTSOCK
    expect(e.message).toContain(`getsockopt fd ${fd}`);
  } finally {
    closeSync(fd);
  }
  expect(catchErr(999_999).errno).toBe(errnos.EBADF);
});
