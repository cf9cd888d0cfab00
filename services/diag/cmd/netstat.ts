import { readNetstat } from "../../../core/procfs/netstat.ts";
import { runReader } from "../output.ts";

const SUMMARY = "Sockets from /proc/net (tcp, tcp6, udp, udp6, raw, raw6) with the owning pid where it can be seen.";
const addr = (ip: string, port: number) => `${ip.includes(":") ? `[${ip}]` : ip}:${port}`;

export const run = (argv: string[]) => runReader("netstat", SUMMARY, argv, () => readNetstat({ pid: true }),
  ["PROTO", "LOCAL", "REMOTE", "STATE", "RECV-Q", "SEND-Q", "UID", "PID"],
  (r) => [r.protocol, addr(r.localIp, r.localPort), addr(r.remoteIp, r.remotePort), r.state, String(r.rxQueue), String(r.txQueue), String(r.uid), r.pid ? String(r.pid) : "-"]);
