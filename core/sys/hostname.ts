/** The kernel's hostname and NIS domain (of this UTS namespace). Setting needs CAP_SYS_ADMIN. */
import { readFileSync } from "node:fs";
import { bufPtr, check, libc } from "./libc.ts";

export function getHostname(): string {
  return readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
}

export function setHostname(name: string): void {
  const b = Buffer.from(name, "utf8");
  check("sethostname", libc().sethostname(bufPtr(b), b.length), name);
}
