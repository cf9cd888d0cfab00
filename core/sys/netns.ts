/**
 * Network namespaces: setns(2) to enter one by its /run/netns name. setns moves only the calling
 * thread, and a socket stays in the namespace it was created in, so opening a socket inside
 * `inNetns` yields a socket of that namespace while the process itself stays where it was.
 */
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, openSync } from "node:fs";
import { check } from "./libc.ts";

const CLONE_NEWNET = 0x40000000;

let lib: { setns: (fd: number, type: number) => number } | undefined;
function ns() {
  lib ??= dlopen("libc.so.6", { setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } }).symbols;
  return lib;
}

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
