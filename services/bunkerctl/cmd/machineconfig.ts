/**
 * What `edit` and `patch` share: the resource they act on (the machine config, named as `get`
 * names it), the node's config as applied (MachineConfiguration, os:admin: the MachineConfig
 * resource is redacted), and the apply options of apply-config.
 */
import { MachineService as M } from "../../../core/api/gen/services.ts";
import type { Destination } from "../client/api.ts";
import { usageError } from "../args.ts";
import type { Format } from "../client/output.ts";
import { formatOption, type Remote } from "../client/remote.ts";
import { MODES } from "./apply-config.ts";

/** The names `get` knows the machine config by; its only id. */
const TYPES = ["mc", "machineconfig", "machineconfigs", "machineconfigs.config.bunker.dev"];
const ID = "v1alpha1";

/** Why TYPE [ID] is not the machine config, or undefined when it is. */
export function checkTarget(type: string, id: string | undefined): string | undefined {
  if (!TYPES.includes(type.toLowerCase())) return `${type}: only the machine config can be changed (machineconfig, mc)`;
  if (id !== undefined && id !== ID) return `${type} ${id}: the machine config's id is ${ID}`;
  return undefined;
}

export const APPLY_OPTIONS = { mode: { type: "string", short: "m" }, "dry-run": { type: "boolean" } } as const;

export const APPLY_HELP = `  -m, --mode MODE              auto (default), live, reboot, staged or try (as apply-config)
  --dry-run                    check and show the diff and the changes; change nothing`;

/**
 * TYPE [ID], -o and --mode of edit and patch: the output format and ApplyConfiguration's mode,
 * or the exit code of a usage error (printed with the help).
 */
export function commonArgs(positionals: string[], values: { output?: string; mode?: string }, help: string): { format: Format; mode: number } | number {
  const [type, id] = positionals as [string, string?];
  const bad = checkTarget(type, id);
  if (bad) return usageError(help, bad);
  const format = formatOption(values.output, help, ["table", "json", "yaml"]);
  if (typeof format === "number") return format;
  const mode = MODES[values.mode ?? "auto"];
  if (mode === undefined) return usageError(help, `--mode ${values.mode}: expected auto, live, reboot, staged or try`);
  return { format, mode };
}

/** The node's config as it was applied: secrets and comments included. */
export async function appliedConfig(r: Remote, d: Destination): Promise<string> {
  const res = await r.api.unary(M.MachineConfiguration, {}, d);
  return new TextDecoder().decode(res.data ?? new Uint8Array());
}
