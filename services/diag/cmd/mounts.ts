import { readMounts } from "../../../core/procfs/mounts.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { runReader } from "../output.ts";

const SUMMARY = "Mounted filesystems: source, target, type, size and space available (statfs), options.";

export const run = (argv: string[]) => runReader("mounts", SUMMARY, argv, () => readMounts(),
  ["SOURCE", "TARGET", "TYPE", "SIZE", "AVAILABLE", "OPTIONS"],
  (m) => [m.source, m.target, m.fstype, m.size ? formatBytes(m.size) : "-", m.size ? formatBytes(m.available) : "-", m.options]);
