/**
 * The names the binary answers to, without their code. init asks whether the personality a
 * service runs is built in; reading that from personalities.ts would import every personality,
 * init included, into init. personalities.ts gives each of these names its loader, and the type
 * checker holds the two lists equal.
 */
export const personalityNames = [
  "apid", "bunkerctl", "dashboard", "diag", "exec-helper", "init", "networkd", "partition", "poweroff", "reboot",
  "shutdown", "trustd", "verify-image", "version",
] as const;

export type PersonalityName = (typeof personalityNames)[number];

/**
 * Names of the design that are not built yet. They are listed, and answer plainly that they do
 * not exist in this build, rather than pretending or being mistaken for a typo.
 */
export const planned: { name: string; summary: string }[] = [];

/** Other names a personality answers to (`bunker ctl` is `bunkerctl`). */
export const aliases: Record<string, string> = { ctl: "bunkerctl" };

/** The name a personality is known by (`ctl` -> `bunkerctl`), or undefined when none is built under it. */
export function builtName(name: string): PersonalityName | undefined {
  const real = aliases[name] ?? name;
  return (personalityNames as readonly string[]).includes(real) ? (real as PersonalityName) : undefined;
}
