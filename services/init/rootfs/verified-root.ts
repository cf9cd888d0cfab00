/**
 * What init keeps of the root stage: the pre-init shim has already put the SquashFS behind
 * dm-verity, mounted it and switched into it before this binary ran (the binary itself comes from
 * the verified root). Init only checks that it runs on that root, and reads what image it is
 * (ROOT_INFO, inside the root, so covered by the same root hash) for the security version floor.
 */
import { readFileSync } from "node:fs";
import { ROOT_DM_NAME, ROOT_INFO } from "../../../core/image/layout.ts";
import { isSecurityVersion } from "../../../core/image/manifest.ts";

export interface VerifiedRoot {
  /** "dm-0" */
  device: string;
  version: string;
  commit: string;
  securityVersion: number;
}

/** Where to look; the defaults are the running node's. Tests point them at a fixture. */
export interface RootPaths {
  mountinfo?: string;
  sysBlock?: string;
  root?: string;
}

/** The major:minor of the filesystem mounted on "/" and its type, from mountinfo. */
export function rootMount(mountinfo: string): { dev: string; fstype: string } | undefined {
  let found: { dev: string; fstype: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    // "22 1 253:0 / / ro,nosuid,nodev - squashfs /dev/dm-0 ro": the last "/" mount wins (stacked).
    const [pre, post] = line.split(" - ");
    const f = pre?.split(" ");
    if (!f || f.length < 5 || !post || f[4] !== "/") continue;
    found = { dev: f[2]!, fstype: post.split(" ")[0]! };
  }
  return found;
}

/**
 * Checks that "/" is the read-only SquashFS on the dm-verity device the shim made, and returns
 * what the root says about its image. Throws an Error naming what does not hold.
 */
export function verifiedRoot(p: RootPaths = {}): VerifiedRoot {
  const mountinfoPath = p.mountinfo ?? "/proc/self/mountinfo";
  const root = rootMount(readFileSync(mountinfoPath, "utf8"));
  if (!root) throw new Error(`${mountinfoPath} has no mount on /`);
  if (root.fstype !== "squashfs") throw new Error(`the root is ${root.fstype}, not the image's SquashFS`);
  const sys = `${p.sysBlock ?? "/sys/dev/block"}/${root.dev}`;
  let name: string;
  let device: string;
  try {
    name = readFileSync(`${sys}/dm/name`, "utf8").trim();
    device = readFileSync(`${sys}/uevent`, "utf8").match(/^DEVNAME=(\S+)$/m)?.[1] ?? root.dev;
  } catch {
    throw new Error(`the root (device ${root.dev}) is not a device-mapper device: it was not mounted through dm-verity`);
  }
  if (name !== ROOT_DM_NAME) throw new Error(`the root is device-mapper device '${name}', not '${ROOT_DM_NAME}' (the verity device the pre-init shim makes)`);
  const infoPath = `${(p.root ?? "/").replace(/\/$/, "")}/${ROOT_INFO}`;
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(readFileSync(infoPath, "utf8"));
  } catch (e) {
    throw new Error(`${infoPath}: ${(e as Error).message}`);
  }
  if (typeof info.version !== "string" || typeof info.commit !== "string" || !isSecurityVersion(info.securityVersion)) {
    throw new Error(`${infoPath}: want {"version": string, "commit": string, "securityVersion": integer}, got ${JSON.stringify(info).slice(0, 200)}`);
  }
  return { device, version: info.version, commit: info.commit, securityVersion: info.securityVersion };
}
