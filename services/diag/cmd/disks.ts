import { discoverDisks } from "../../../core/disks/disk.ts";
import { formatBytes } from "../../../core/format/bytes.ts";
import { runReader } from "../output.ts";

const SUMMARY = "Block devices from /sys/block: size, transport, model, serial, rotational, read-only.";

export const run = (argv: string[]) => runReader("disks", SUMMARY, argv, () => discoverDisks(),
  ["DEV", "SIZE", "TRANSPORT", "TYPE", "MODEL", "SERIAL", "RO"],
  (d) => [d.devPath, formatBytes(d.size), d.transport, d.type, d.model ?? "", d.serial ?? "", d.readOnly ? "yes" : "no"]);
