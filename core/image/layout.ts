/**
 * Where an image's files are, in one place for everyone who writes or reads them: rootfs/build
 * (which makes them), core/install and verify-image (which check and copy them), and init (which
 * finds the root and its proof in the initramfs at boot).
 */

/** The files of an image folder (rootfs/build's output, the URL a node upgrades from). */
export const IMAGE_FILES = {
  kernel: "vmlinuz",
  initramfs: "initramfs.zst",
  rootImage: "rootfs.sqsh",
  iso: "bunker.iso",
  ipxe: "boot.ipxe",
  publicKey: "image.pub",
  manifest: "manifest.json",
  signature: "manifest.sig",
} as const;

/** The signed manifest and its signature: in every image folder and every boot slot. */
export const MANIFEST_FILES = [IMAGE_FILES.manifest, IMAGE_FILES.signature] as const;

/** The files a boot slot holds besides MANIFEST_FILES, all named in the image's manifest. */
export const SLOT_FILES = [IMAGE_FILES.kernel, IMAGE_FILES.initramfs] as const;

/** Inside the initramfs, from its root: the read-only root image (also in the image folder). */
export const ROOT_IMAGE = IMAGE_FILES.rootImage;
/** Inside the initramfs: the root image's own signed manifest (it lists the files bound into the root). */
export const ROOT_MANIFEST = "boot/rootfs.manifest.json";
export const ROOT_SIGNATURE = "boot/rootfs.manifest.sig";
/** Inside the initramfs, and on the running node at /etc/bunker/image.pub: the key images are signed with. */
export const IMAGE_PUBLIC_KEY = "etc/bunker/image.pub";
/** Inside the initramfs: where the root is mounted before the switch. */
export const NEW_ROOT = "newroot";

/** The consoles of every boot path (the serial console last: it becomes /dev/console). */
export const KERNEL_CMDLINE = "console=tty0 console=ttyS0,115200";
