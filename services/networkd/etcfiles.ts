/**
 * /etc/resolv.conf and /etc/hosts, rendered from the specs and written into a writable
 * directory (the root is read-only on a node; /etc holds links into it). Writes are atomic
 * (core/fileio/atomic.ts), so a reader never sees half a file.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../core/fileio/atomic.ts";
import type { NetworkSpec } from "./types.ts";

export function renderResolvConf(spec: NetworkSpec): string {
  const lines = ["# Written by Bunker networkd from the machine config and DHCP."];
  // The resolver reads at most three nameservers (MAXNS).
  for (const s of spec.resolvers.servers.slice(0, 3)) lines.push(`nameserver ${s}`);
  if (spec.resolvers.search.length > 0) lines.push(`search ${spec.resolvers.search.join(" ")}`);
  return lines.join("\n") + "\n";
}

export function renderHosts(spec: NetworkSpec, nodeAddress?: string): string {
  const h = spec.hostname;
  const names = h.domain ? `${h.hostname}.${h.domain} ${h.hostname}` : h.hostname;
  const lines = [
    "# Written by Bunker networkd.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${nodeAddress ?? "127.0.1.1"}\t${names}`,
  ];
  for (const e of spec.extraHosts) lines.push(`${e.ip}\t${e.aliases.join(" ")}`);
  return lines.join("\n") + "\n";
}

/** Writes `content` to dir/name atomically; returns false when the file already held it. */
export function writeAtomic(dir: string, name: string, content: string): boolean {
  const path = join(dir, name);
  try {
    if (readFileSync(path, "utf8") === content) return false;
  } catch {
    // missing: write it
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, content, { mode: 0o644, overwrite: true });
  return true;
}
