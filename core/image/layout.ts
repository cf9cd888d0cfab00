/**
 * Where an image's files are, in one place for everyone who writes or reads them: rootfs/build
 * (which makes them), core/install and verify-image (which check and copy them), and init (which
 * checks the root it runs on).
 */

/** The files of an image folder (rootfs/build's output, the URL a node upgrades from). */
export const IMAGE_FILES = {
  kernel: "vmlinuz",
  initramfs: "initramfs.zst",
  rootImage: "rootfs.sqsh",
  iso: "bunker.iso",
  etcdExtension: "etcd.ext",
  ipxe: "boot.ipxe",
  publicKey: "image.pub",
  manifest: "manifest.json",
  signature: "manifest.sig",
} as const;

/** The signed manifest and its signature: in every image folder and every boot slot. */
export const MANIFEST_FILES = [IMAGE_FILES.manifest, IMAGE_FILES.signature] as const;

/** The files a boot slot holds besides MANIFEST_FILES, all named in the image's manifest. */
export const SLOT_FILES = [IMAGE_FILES.kernel, IMAGE_FILES.initramfs] as const;

/**
 * An extension of the image: programs only some nodes need, kept out of the base root so that
 * the base stays small. A read-only SquashFS with its dm-verity hash tree appended, inside a
 * stored cpio archive of its own (`file`) that every bootloader entry loads before the base
 * initramfs. Its verity parameters travel in the base initramfs's pre-init archive, beside the
 * root's, so an extension from another build, or altered, does not read. The pre-init shim puts
 * it behind dm-verity as `dmName`; init mounts it at `mountPoint` only on the nodes that need it.
 */
export interface Extension {
  name: string;
  /** The image folder's (and a boot slot's, and the ISO's /boot) file: a stored cpio archive. */
  file: string;
  /** Inside that archive, so in the initramfs: the SquashFS with its hash tree. */
  image: string;
  /** Inside the pre-init archive: its dm-verity line, as ROOT_VERITY's. */
  verity: string;
  dmName: string;
  /** In the root: where it is mounted (an empty folder of the base root). */
  mountPoint: string;
}

/** etcd 3.4 and etcdctl, mounted on control planes only (docs/image.md, "extensions"). */
export const ETCD_EXTENSION: Extension = {
  name: "etcd",
  file: IMAGE_FILES.etcdExtension,
  image: "ext/etcd.sqsh",
  verity: "boot/ext/etcd.verity",
  dmName: "bunker-ext-etcd",
  mountPoint: "ext/etcd",
};

export const EXTENSIONS: readonly Extension[] = [ETCD_EXTENSION];

/**
 * Files a slot takes when the image's manifest lists them: the extensions. An image built
 * without them (or before them) still installs and boots, without what they carry.
 */
export const OPTIONAL_SLOT_FILES: readonly string[] = EXTENSIONS.map((e) => e.file);

/**
 * Inside the initramfs, from its root: the read-only root image, a SquashFS with its dm-verity
 * hash tree appended (not a separate file in the image folder: the initramfs is its only copy).
 */
export const ROOT_IMAGE = IMAGE_FILES.rootImage;
/**
 * Inside the initramfs: the dm-verity parameters of ROOT_IMAGE, one line
 * "<data blocks> <hash start block> <sha256 root hash> <salt>" (4096-byte blocks, hex), which the
 * pre-init shim builds the verity table from. It travels in the same initramfs as the shim.
 */
export const ROOT_VERITY = "boot/root.verity";
/** In the root: what image this is ({ version, commit, securityVersion }), covered by verity. */
export const ROOT_INFO = "etc/bunker/image.json";
/** In the root (so at /etc/bunker/image.pub on the running node): the key images are signed with. */
export const IMAGE_PUBLIC_KEY = "etc/bunker/image.pub";
/** Inside the initramfs: where the root is mounted before the switch. */
export const NEW_ROOT = "newroot";
/** The device-mapper name of the verified root (the pre-init shim creates it). */
export const ROOT_DM_NAME = "bunker-root";

/** The consoles of every boot path (the serial console last: it becomes /dev/console). */
export const KERNEL_CMDLINE = "console=tty0 console=ttyS0,115200";
