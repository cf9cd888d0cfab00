import { expect, test } from "bun:test";
import { check, cstr, libc, SysError, errnos } from "./libc.ts";

test("getpid through libc matches process.pid", () => {
  expect(libc().getpid()).toBe(process.pid);
});

test("a failing call becomes a SysError naming the call, the detail and errno", () => {
  const fd = libc().open(cstr("/nonexistent/bunker-test"), 0, 0);
  let err: unknown;
  try {
    check("open", fd, "/nonexistent/bunker-test");
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SysError);
  expect((err as SysError).errno).toBe(errnos.ENOENT);
  expect((err as SysError).message).toContain("open /nonexistent/bunker-test: No such file or directory");
});
