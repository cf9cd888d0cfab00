/**
 * Network namespaces: setns(2) to enter one by its /run/netns name. setns moves only the calling
 * thread, and a socket stays in the namespace it was created in, so opening a socket inside
 * `inNetns` yields a socket of that namespace while the process itself stays where it was.
 */
import { FFIType } from "bun:ffi";
import { closeSync, openSync, statSync } from "node:fs";
import { check, lazyLibc } from "./libc.ts";

const CLONE_NEWNET = 0x40000000;

const ns = lazyLibc({ setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });

/** Runs `fn` (synchronously) with this thread inside network namespace `name`, then comes back. */
export function inNetns<T>(name: string, fn: () => T): T {
  const self = openSync("/proc/thread-self/ns/net", "r");
  let target: number;
  try {
    target = openSync(`/run/netns/${name}`, "r");
  } catch (e) {
    closeSync(self);
    throw new Error(`network namespace ${name}: ${(e as Error).message}`);
  }
  try {
    check("setns", ns().setns(target, CLONE_NEWNET), `network namespace ${name}`);
    try {
      return fn();
    } finally {
      check("setns", ns().setns(self, CLONE_NEWNET), "back to the original network namespace");
    }
  } finally {
    closeSync(target);
    closeSync(self);
  }
}

/**
 * Whether this process's network namespace is the host's: the one the system's first process
 * (the host's init) runs in. "unknown" where that process's namespace cannot be read (a
 * hardened or sandboxed PID 1 refuses even root). PID 1 itself answers "own": a node's init,
 * or a container's, whose namespace is its own.
 */
export function netnsOwner(pid = process.pid): "host" | "own" | "unknown" {
  if (pid === 1) return "own";
  try {
    const self = statSync("/proc/self/ns/net"), host = statSync("/proc/1/ns/net");
    return self.ino === host.ino && self.dev === host.dev ? "host" : "own";
  } catch {
    return "unknown";
  }
}
