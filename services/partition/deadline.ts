/**
 * `bunker partition trial-deadline --seconds N --watch PID --then reboot|kill`: the boot
 * deadline of an upgraded slot's trial boot, as a process of its own. init starts it early in a
 * trial boot and kills it once the boot is ready; if it is still alive after N seconds, the trial
 * hung, and it reboots the machine (GRUB's one-shot trial was spent, so the slot the node came
 * from boots) or, in container mode, kills init (PID). Outside init on purpose: a hang that
 * stops init's event loop stops its timers too, not this process.
 */
import { libc } from "../../core/sys/libc.ts";
import { RB } from "../init/pid1.ts";
import { UsageError, type Values } from "./args.ts";

export async function trialDeadline(values: Values): Promise<number> {
  const seconds = Number(values.seconds);
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new UsageError(`--seconds ${values.seconds}: expected a positive number of seconds`);
  const pid = Number(values.watch);
  if (!Number.isInteger(pid) || pid < 1) throw new UsageError(`--watch ${values.watch}: expected the pid of init`);
  const then = values.then;
  if (then !== "reboot" && then !== "kill") throw new UsageError(`--then ${then}: expected reboot or kill`);
  await Bun.sleep(seconds * 1000);
  console.error(`boot deadline: the trial boot was not ready within ${seconds} s; ${then === "reboot" ? "rebooting into the slot it came from" : `killing init (pid ${pid})`}`);
  if (then === "kill") {
    process.kill(pid, "SIGKILL");
    return 0;
  }
  libc().sync();
  libc().reboot(RB.AUTOBOOT);
  console.error("boot deadline: the kernel refused to reboot");
  return 1;
}
