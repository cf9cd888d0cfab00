import { readKmsg } from "../../../core/procfs/kmsg.ts";
import { runReader } from "../output.ts";

const SUMMARY = "The kernel log from /dev/kmsg (needs root while kernel.dmesg_restrict=1).";
const LEVELS = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];

export const run = (argv: string[]) => runReader("dmesg", SUMMARY, argv, () => Array.fromAsync(readKmsg()),
  ["TIME", "LEVEL", "MESSAGE"],
  (r) => [`[${(r.monotonicUs / 1e6).toFixed(6).padStart(12)}]`, LEVELS[r.priority] ?? String(r.priority), r.message]);
