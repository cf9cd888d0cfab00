/** Sockets from /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}, optionally with their owning process. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

export const PROTOCOLS = ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface SocketRecord {
  protocol: Protocol; localIp: string; localPort: number; remoteIp: string; remotePort: number;
  state: string; txQueue: number; rxQueue: number; uid: number; inode: number; pid: number;
}

const TCP_STATES = ["", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"];

/** The kernel prints addresses as 32-bit words in host (little-endian) byte order. */
export function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") return `::ffff:${bytes.slice(12).join(".")}`;
  // Shorten the longest run of zero groups, as RFC 5952 asks.
  const text = groups.join(":");
  const runs = [...text.matchAll(/(?:^|:)0(?::0)+(?=:|$)/g)].sort((a, b) => b[0].length - a[0].length);
  const run = runs[0];
  if (!run) return text;
  return `${text.slice(0, run.index)}::${text.slice(run.index! + run[0].length).replace(/^:/, "")}`;
}

export function parseNetTable(protocol: Protocol, text: string): SocketRecord[] {
  const out: SocketRecord[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [lip, lport] = f[1]!.split(":");
    const [rip, rport] = f[2]!.split(":");
    const [tx, rx] = f[4]!.split(":");
    const st = parseInt(f[3]!, 16);
    out.push({
      protocol, localIp: decodeAddress(lip!), localPort: parseInt(lport!, 16), remoteIp: decodeAddress(rip!), remotePort: parseInt(rport!, 16),
      state: protocol.startsWith("tcp") ? TCP_STATES[st] ?? `0x${f[3]}` : "", txQueue: parseInt(tx!, 16), rxQueue: parseInt(rx!, 16),
      uid: Number(f[7]), inode: Number(f[9]), pid: 0,
    });
  }
  return out;
}

/** inode -> pid for every socket of every process we may look into. */
export function socketOwners(proc = "/proc"): Map<number, number> {
  const owners = new Map<number, number>();
  for (const name of readdirSync(proc)) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try { fds = readdirSync(`${proc}/${name}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`${proc}/${name}/fd/${fd}`));
        if (m && !owners.has(Number(m[1]))) owners.set(Number(m[1]), Number(name));
      } catch { /* closed meanwhile */ }
    }
  }
  return owners;
}

export interface NetstatOptions { filter?: "all" | "listening" | "connected"; protocols?: Protocol[]; pid?: boolean; proc?: string }

export function readNetstat(o: NetstatOptions = {}): SocketRecord[] {
  const proc = o.proc ?? "/proc";
  const protocols = o.protocols?.length ? o.protocols : PROTOCOLS;
  let out: SocketRecord[] = [];
  for (const p of protocols) {
    try { out.push(...parseNetTable(p, readFileSync(`${proc}/net/${p}`, "utf8"))); } catch { /* family not built into this kernel */ }
  }
  // Listening: TCP LISTEN, or unconnected UDP/raw (no remote port); connected: the rest.
  const listening = (r: SocketRecord) => (r.protocol.startsWith("tcp") ? r.state === "LISTEN" : r.remotePort === 0);
  if (o.filter === "listening") out = out.filter(listening);
  if (o.filter === "connected") out = out.filter((r) => !listening(r));
  if (o.pid) {
    const owners = socketOwners(proc);
    for (const r of out) r.pid = owners.get(r.inode) ?? 0;
  }
  return out;
}

export function isProtocol(s: string): s is Protocol {
  return (PROTOCOLS as readonly string[]).includes(s);
}
