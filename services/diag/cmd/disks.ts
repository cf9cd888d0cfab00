import { discoverDisks } from "../../../core/disks/disk.ts";
import { humanBytes, runReader } from "../output.ts";

const SUMMARY = "Block devices from /sys/block: size, transport, model, serial, rotational, read-only.";

export const run = (argv: string[]) => runReader("disks", SUMMARY, argv, () => discoverDisks(),
  ["DEV", "SIZE", "TRANSPORT", "TYPE", "MODEL", "SERIAL", "RO"],
  (d) => [d.devPath, humanBytes(d.size), d.transport, d.type, d.model ?? "", d.serial ?? "", d.readOnly ? "yes" : "no"]);
