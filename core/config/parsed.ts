/**
 * The checked config's values as their consumers take them, made once by loadConfig right after
 * the checks: addresses and prefixes as core/ip values, durations in milliseconds, sizes in bytes.
 * The MachineConfig beside it keeps the operator's text (the store, `get mc`, redaction and the
 * MachineConfiguration call show what was written); consumers take this instead of parsing it.
 */
import { parseSizeCondition, type DiskSelector } from "../disks/selector.ts";
import { durationMs } from "./forms.ts";
import { parseNetworkSections, type NetworkConfig } from "./network.ts";
import { DEFAULT_BOOT_DEADLINE, type MachineConfig } from "./schema.ts";

/** A duration as written (for messages an operator reads) and its length. */
export interface Duration { text: string; ms: number }

export interface ParsedConfig {
  network: NetworkConfig;
  /** machine.install.bootDeadline, its default when machine.install is absent. */
  bootDeadline: Duration;
  /** machine.install.diskSelector with its size condition in bytes. */
  diskSelector?: DiskSelector;
}

export function duration(text: string): Duration {
  return { text, ms: durationMs(text) };
}

/** The boot deadline before any config is read (and when one has no machine.install). */
export const DEFAULT_DEADLINE: Duration = duration(DEFAULT_BOOT_DEADLINE);

/** The parsed view of a config the schema and the cross-field checks accepted. */
export function parseConfig(c: MachineConfig): ParsedConfig {
  const install = c.machine.install;
  const out: ParsedConfig = {
    network: parseNetworkSections(c.machine),
    bootDeadline: install ? duration(install.bootDeadline) : DEFAULT_DEADLINE,
  };
  const sel = install?.diskSelector;
  if (sel) {
    const { size, ...rest } = sel;
    out.diskSelector = size === undefined ? rest : { ...rest, size: parseSizeCondition(size) };
  }
  return out;
}
