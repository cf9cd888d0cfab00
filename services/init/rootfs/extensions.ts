/**
 * The image's extensions on a running node (core/image/layout.ts EXTENSIONS). The pre-init shim
 * has put each one the bootloader loaded behind dm-verity, unmounted; here a node that needs it
 * mounts it read-only, and one that never will drops the device, which frees the memory its
 * file held (the shim unlinked the file and set the loop device to clear itself).
 */
import { errnos, SysError } from "../../../core/sys/libc.ts";
import { dmDeviceByName, removeDmDevice } from "../../../core/sys/devmapper.ts";
import { isMountPoint, MS, mountFs } from "../../../core/sys/mount.ts";
import { IMAGE_FILES, type Extension } from "../../../core/image/layout.ts";

/** Where the extension's files are: "/" + its mount point. */
export const extensionDir = (ext: Extension, root = "/"): string => `${root.replace(/\/$/, "")}/${ext.mountPoint}`;

export interface ExtensionState {
  /** "mounted": its files are at extensionDir; "absent": not on this node; "released": dropped. */
  state: "mounted" | "absent" | "released";
  /** What happened, for MachineStatus and the log. */
  message: string;
}

/**
 * Mounts `ext` at its mount point (a no-op when it already is). Returns "absent" with the reason
 * when the bootloader did not load it or it was released; throws when it is there but does not
 * mount (a block that fails verification reads as EIO).
 */
export function mountExtension(ext: Extension, o: { root?: string; sysBlock?: string } = {}): ExtensionState {
  const dir = extensionDir(ext, o.root);
  if (isMountPoint(dir)) return { state: "mounted", message: `extension ${ext.name} mounted at ${dir}` };
  const dev = dmDeviceByName(ext.dmName, o.sysBlock);
  if (!dev) {
    return {
      state: "absent",
      message: `the ${ext.name} extension is not on this node: its bootloader entry did not load ${ext.file} before ${IMAGE_FILES.initramfs} ` +
        `(the ISO, an installed slot and boot.ipxe do; a -kernel boot must pass both as the initrd), this image has none, ` +
        `or this boot released it while the node was not a control plane (reboot to have it again)`,
    };
  }
  try {
    mountFs(dev, dir, "squashfs", MS.RDONLY | MS.NODEV | MS.NOSUID);
  } catch (e) {
    if (e instanceof SysError && e.errno === errnos.EIO) {
      throw new Error(`the ${ext.name} extension (${dev}) failed verification: its blocks do not match the hash in this image's initramfs (an altered ${ext.file}, or one from another build)`);
    }
    throw e;
  }
  return { state: "mounted", message: `extension ${ext.name} mounted at ${dir} from ${dev} (dm-verity)` };
}

/** Drops `ext`'s verity device unless it is mounted; its memory is freed. */
export function releaseExtension(ext: Extension, o: { root?: string; sysBlock?: string } = {}): ExtensionState {
  const dir = extensionDir(ext, o.root);
  if (isMountPoint(dir)) return { state: "mounted", message: `extension ${ext.name} stays mounted at ${dir} (it is in use)` };
  if (!dmDeviceByName(ext.dmName, o.sysBlock)) return { state: "absent", message: `extension ${ext.name} is not on this node` };
  removeDmDevice(ext.dmName);
  return { state: "released", message: `extension ${ext.name} released: this node does not need it` };
}
