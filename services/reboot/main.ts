import { powerCommand } from "../init/api/power-command.ts";

export function main(argv: string[]): Promise<number> {
  return powerCommand("reboot", "reboot", argv);
}
