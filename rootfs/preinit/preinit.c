/*
 * Bunker's pre-init: the initramfs /init. It is the only code that runs before the root is
 * verified, so it stays small and does one thing: put the SquashFS root behind dm-verity with the
 * root hash that came with it in this initramfs, and start the one binary from it.
 *   1. mount /proc, /sys, /dev (Bun aborts without /proc);
 *   2. read ROOT_VERITY (data blocks, hash start block, root hash, salt; written by rootfs/build);
 *   3. attach ROOT_IMAGE (SquashFS + its hash tree appended) to a loop device read-only;
 *   4. create the device-mapper device "bunker-root" with one "verity" target over it
 *      (DM_DEV_CREATE, DM_TABLE_LOAD, DM_DEV_SUSPEND to resume); every block read from it is
 *      checked against the root hash, and one that does not match is an I/O error;
 *   5. for each extension the bootloader loaded (core/image/layout.ts EXTENSIONS: an archive of
 *      its own, loaded before this one) whose verity line is in this archive: the same loop and
 *      verity device, named for it, left unmounted (init mounts it where it is needed) and the
 *      file unlinked, so its memory goes once init drops the device. A missing or broken
 *      extension is said on the console and skipped: the base system boots without it;
 *   6. mount the root read-only on /newroot, move /proc /sys /dev into it, switch root (MS_MOVE, chroot);
 *   7. replace the environment the kernel built from unknown command-line words (a compiled Bun
 *      binary obeys BUN_OPTIONS and BUN_BE_BUN) with a fixed one, and exec /usr/bin/bunker as
 *      `init`, keeping PID 1.
 * On failure it says why on the console, waits 10 s and reboots: a panic loop would hide the
 * message, and there is no fallback to an unverified root.
 * Built static with musl-gcc -Os by rootfs/build; the only program in the image not in TypeScript.
 * Built with -DUNVERIFIED_TEST_ROOT (tests only: test/qemu/net-guest.test.ts boots a guest program
 * that is not an image) it skips steps 2-5 and execs the binary from the initramfs; the image
 * build never compiles that variant.
 * musl ships no kernel headers, so the few ioctl structures are declared here, as in
 * linux/loop.h and linux/dm-ioctl.h (the kernel's ABI, stable).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define BINARY "/usr/bin/bunker"
#define ROOT_IMAGE "/rootfs.sqsh"
#define ROOT_VERITY "/boot/root.verity"
#define NEW_ROOT "/newroot"
#define DM_NAME "bunker-root"

/* core/image/layout.ts EXTENSIONS: the image in the initramfs, its verity line, its dm name. */
static const struct {
	const char *image, *verity, *dm;
} extensions[] = {
	{"/ext/etcd.sqsh", "/boot/ext/etcd.verity", "bunker-ext-etcd"},
};
#ifdef UNVERIFIED_TEST_ROOT
#define VERIFIED_ROOT 0
#else
#define VERIFIED_ROOT 1
#endif

/* linux/loop.h */
#define LOOP_CTL_GET_FREE 0x4C82
#define LOOP_CONFIGURE 0x4C0A
#define LO_FLAGS_READ_ONLY 1
#define LO_FLAGS_AUTOCLEAR 4
struct loop_info64 {
	uint64_t lo_device, lo_inode, lo_rdevice, lo_offset, lo_sizelimit;
	uint32_t lo_number, lo_encrypt_type, lo_encrypt_key_size, lo_flags;
	uint8_t lo_file_name[64], lo_crypt_name[64], lo_encrypt_key[32];
	uint64_t lo_init[2];
};
struct loop_config {
	uint32_t fd, block_size;
	struct loop_info64 info;
	uint64_t reserved[8];
};

/* linux/dm-ioctl.h */
struct dm_ioctl {
	uint32_t version[3], data_size, data_start, target_count;
	int32_t open_count;
	uint32_t flags, event_nr, padding;
	uint64_t dev;
	char name[128], uuid[129], data[7];
};
struct dm_target_spec {
	uint64_t sector_start, length;
	int32_t status;
	uint32_t next;
	char target_type[16];
};
#define DM_IOCTL_NR(nr) _IOC(_IOC_READ | _IOC_WRITE, 0xfd, nr, sizeof(struct dm_ioctl))
#define DM_DEV_CREATE DM_IOCTL_NR(3)
#define DM_DEV_SUSPEND DM_IOCTL_NR(6)
#define DM_TABLE_LOAD DM_IOCTL_NR(9)
#define DM_READONLY_FLAG 1
#define DM_DEV_REMOVE DM_IOCTL_NR(4)

/* One console line, built whole and written in one write(): a kernel message printed meanwhile
 * cannot land inside it (the boot tests read the console line by line). */
static void say(const char *a, const char *b) {
	char line[512];
	size_t n = 0;
	const char *parts[] = {"[preinit] ", a, b, "\n"};
	for (size_t i = 0; i < 4; i++) {
		size_t l = strlen(parts[i]);
		if (l > sizeof line - 2 - n) l = sizeof line - 2 - n; /* keep room for the newline */
		memcpy(line + n, parts[i], l);
		n += l;
	}
	if (line[n - 1] != '\n') line[n++] = '\n';
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0) fd = 2;
	write(fd, line, n);
	if (fd != 2) close(fd);
}

static _Noreturn void stop(void) {
	say("rebooting in 10 s", "");
	sleep(10);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;) pause(); /* reboot() failed: never return, never exit (that would panic) */
}

static _Noreturn void fail(const char *what) {
	say(what, strerror(errno));
	stop();
}

/* Appends text to a buffer of `cap` bytes at *len; false when it does not fit. stdio would
 * quadruple the shim's size for the three lines it formats. */
static int put(char *buf, size_t cap, size_t *len, const char *text) {
	size_t n = strlen(text);
	if (*len + n + 1 > cap) return 0;
	memcpy(buf + *len, text, n + 1);
	*len += n;
	return 1;
}

/* say() with errno's text; returns -1 for the caller to pass on. */
static int say_errno(const char *what) {
	say(what, strerror(errno));
	return -1;
}

/* "<what><name>: <errno's text>"; returns -1. */
static int say_errno2(const char *what, const char *name) {
	char line[192];
	size_t n = 0;
	line[0] = 0;
	put(line, sizeof line, &n, what);
	put(line, sizeof line, &n, name);
	put(line, sizeof line, &n, ": ");
	say(line, strerror(errno));
	return -1;
}

/* Decimal text of v in out[24]; returns where it starts inside out. */
static const char *num(char out[24], unsigned long long v) {
	char *p = out + 23;
	*p = 0;
	do *--p = (char)('0' + v % 10); while (v /= 10);
	return p;
}

/* A decimal number ending at a space; advances *s past it and the space. */
static int parse_num(const char **s, unsigned long long *v) {
	const char *p = *s;
	*v = 0;
	if (*p < '0' || *p > '9') return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (*v > (~0ULL - 9) / 10) return 0;
		*v = *v * 10 + (unsigned)(*p - '0');
	}
	if (*p != ' ') return 0;
	*s = p + 1;
	return 1;
}

/* 64 lowercase hex digits followed by `end`; copies them to out[65]. */
static int parse_hex64(const char **s, char *out, char end) {
	const char *p = *s;
	for (int i = 0; i < 64; i++, p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
		out[i] = *p;
	}
	out[64] = 0;
	if (*p != end) return 0;
	*s = p + 1;
	return 1;
}

static void mnt(const char *type, const char *dir, unsigned long flags) {
	/* EBUSY: already mounted (e.g. a kernel with DEVTMPFS_MOUNT); keep going. */
	if (mount(type, dir, type, flags, 0) != 0 && errno != EBUSY) {
		say("cannot mount ", dir);
		fail("mount: ");
	}
}

/* "<data blocks> <hash start block> <root hash hex> <salt hex>\n", checked strictly: a file that
 * says anything else is refused rather than building a table from it. Returns -1 having said why. */
static int read_verity(const char *path, unsigned long long *blocks, unsigned long long *hash_start, char *hash, char *salt) {
	char buf[256];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		say("cannot open the verity parameters: ", path);
		return -1;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		say("cannot read the verity parameters: ", path);
		return -1;
	}
	buf[n] = 0;
	const char *p = buf;
	if (!parse_num(&p, blocks) || !parse_num(&p, hash_start) || !parse_hex64(&p, hash, ' ') || !parse_hex64(&p, salt, '\n') ||
	    p != buf + n || *blocks == 0 || *hash_start < *blocks || *blocks > (~0ULL >> 4)) {
		say(path, " is malformed: want '<data blocks> <hash start block> <sha256 root hash> <salt>'");
		return -1;
	}
	return 0;
}

/* Attaches `image` read-only to a free loop device; its number, or -1 having said why. With
 * `held`, the loop device stays open there for the caller to close: a device set to clear itself
 * would be cleared as soon as its last opener closes it, so it must stay open until device-mapper
 * holds it. */
static int attach_loop(const char *image, uint32_t flags, int *held) {
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) return say_errno("cannot open /dev/loop-control: ");
	int n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0) return say_errno("LOOP_CTL_GET_FREE: ");
	char dev[32] = "/dev/loop";
	size_t dl = strlen(dev);
	char nb[24];
	put(dev, sizeof dev, &dl, num(nb, (unsigned)n));
	int img = open(image, O_RDONLY | O_CLOEXEC);
	if (img < 0) return say_errno2("cannot open ", image);
	int lo = open(dev, O_RDONLY | O_CLOEXEC);
	if (lo < 0) {
		close(img);
		return say_errno("cannot open the loop device: ");
	}
	struct loop_config c;
	memset(&c, 0, sizeof c);
	c.fd = (uint32_t)img;
	c.info.lo_flags = LO_FLAGS_READ_ONLY | flags;
	int r = ioctl(lo, LOOP_CONFIGURE, &c);
	int e = errno;
	/* The loop device holds its own reference to the file; device-mapper will hold the loop's. */
	close(img);
	if (r != 0 || !held) close(lo);
	errno = e;
	if (r != 0) return say_errno2("LOOP_CONFIGURE ", image);
	if (held) *held = lo;
	return n;
}

static void dm_init(struct dm_ioctl *d, size_t size, uint32_t flags, const char *name) {
	memset(d, 0, size);
	d->version[0] = 4; /* DM_VERSION_MAJOR; minor 0 asks for nothing newer */
	d->data_size = (uint32_t)size;
	d->data_start = sizeof *d;
	d->flags = flags;
	strncpy(d->name, name, sizeof d->name - 1);
}

/* Creates device-mapper device `name`, a verity target over loop `loop`; the device number in
 * *dev, or -1 having said why (a device half made is removed again). */
static int create_verity(const char *name, unsigned loop, unsigned long long blocks, unsigned long long hash_start, const char *hash, const char *salt, dev_t *dev) {
	int ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) return say_errno("cannot open /dev/mapper/control: ");
	union {
		struct dm_ioctl io;
		char raw[sizeof(struct dm_ioctl) + sizeof(struct dm_target_spec) + 320];
	} b;
	dm_init(&b.io, sizeof b.io, DM_READONLY_FLAG, name);
	if (ioctl(ctl, DM_DEV_CREATE, &b) != 0) {
		say_errno2("DM_DEV_CREATE ", name);
		close(ctl);
		return -1;
	}

	dm_init(&b.io, sizeof b, DM_READONLY_FLAG, name);
	b.io.target_count = 1;
	struct dm_target_spec *t = (struct dm_target_spec *)(b.raw + sizeof b.io);
	t->sector_start = 0;
	t->length = blocks * 8; /* 4096-byte blocks in 512-byte sectors */
	strcpy(t->target_type, "verity");
	/* version 1, data and hash on the same loop device (the tree follows the data), 4 KiB
	 * blocks; no optional arguments: a block that fails the check is an I/O error. */
	char *params = (char *)(t + 1), lo[32] = "7:", nb[24], hb[24], bb[24];
	size_t ll = 2, len = 0;
	put(lo, sizeof lo, &ll, num(nb, loop));
	const char *parts[] = {"1 ", lo, " ", lo, " 4096 4096 ", num(bb, blocks), " ", num(hb, hash_start), " sha256 ", hash, " ", salt};
	int ok = 1;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) ok &= put(params, 320, &len, parts[i]);
	int r = -1;
	if (!ok) say("verity table too long for ", name);
	else if (ioctl(ctl, DM_TABLE_LOAD, &b) != 0) say_errno2("DM_TABLE_LOAD verity ", name);
	else {
		dm_init(&b.io, sizeof b.io, 0, name); /* DM_DEV_SUSPEND without DM_SUSPEND_FLAG: resume */
		if (ioctl(ctl, DM_DEV_SUSPEND, &b) != 0) say_errno2("DM_DEV_SUSPEND (resume) ", name);
		else {
			*dev = (dev_t)b.io.dev;
			r = 0;
		}
	}
	if (r != 0) {
		dm_init(&b.io, sizeof b.io, 0, name);
		ioctl(ctl, DM_DEV_REMOVE, &b);
	}
	close(ctl);
	return r;
}

/* An extension: put it behind verity like the root, or say why not and go on without it. Its
 * file is unlinked either way: the loop device (set to clear itself when its last user closes
 * it) keeps the data for as long as the verity device exists, and no more. */
static void attach_extension(const char *image, const char *verity, const char *name) {
	if (access(image, F_OK) != 0) {
		say("extension not loaded by the bootloader: ", name);
		return;
	}
	unsigned long long blocks, hash_start;
	char hash[65], salt[65];
	dev_t dev;
	int loop = -1, held = -1;
	if (access(verity, F_OK) != 0) say("this image has no verity parameters for the extension, so it is not used: ", image);
	else if (read_verity(verity, &blocks, &hash_start, hash, salt) == 0 && (loop = attach_loop(image, LO_FLAGS_AUTOCLEAR, &held)) >= 0) {
		if (create_verity(name, (unsigned)loop, blocks, hash_start, hash, salt, &dev) == 0) say("extension on dm-verity, not mounted: ", name);
		else say("extension skipped: ", name);
		close(held); /* device-mapper holds the loop device now, or nobody does and it clears */
	}
	unlink(image);
}

static void enter_root(void) {
	unsigned long long blocks, hash_start;
	char hash[65], salt[65];
	dev_t dm;
	if (read_verity(ROOT_VERITY, &blocks, &hash_start, hash, salt) != 0) stop();
	int loop = attach_loop(ROOT_IMAGE, 0, 0);
	if (loop < 0 || create_verity(DM_NAME, (unsigned)loop, blocks, hash_start, hash, salt, &dm) != 0) stop();
	for (size_t i = 0; i < sizeof extensions / sizeof *extensions; i++) attach_extension(extensions[i].image, extensions[i].verity, extensions[i].dm);
	char node[48] = "/dev/dm-";
	size_t nl = strlen(node);
	char mb[24];
	put(node, sizeof node, &nl, num(mb, minor(dm)));
	if (mknod(node, S_IFBLK | 0400, dm) != 0 && errno != EEXIST) fail("cannot make the root's device node: ");
	say("root: " ROOT_IMAGE " on dm-verity, root hash ", hash);

	if (mount(node, NEW_ROOT, "squashfs", MS_RDONLY | MS_NODEV | MS_NOSUID, 0) != 0) {
		/* EIO here is a superblock that failed verification: another image, or a damaged one. */
		say("cannot mount the verified root (a block that fails verification reads as an I/O error): ", strerror(errno));
		stop();
	}
	static const char *const moved[] = {"/proc", "/sys", "/dev"};
	for (int i = 0; i < 3; i++) {
		char to[32] = NEW_ROOT;
		size_t tl = strlen(to);
		put(to, sizeof to, &tl, moved[i]);
		if (mount(moved[i], to, 0, MS_MOVE, 0) != 0) {
			say("cannot move into the root: ", moved[i]);
			fail("mount --move: ");
		}
	}
	if (chdir(NEW_ROOT) != 0) fail("chdir " NEW_ROOT ": ");
	if (mount(".", "/", 0, MS_MOVE, 0) != 0) fail("cannot move the root onto /: ");
	if (chroot(".") != 0 || chdir("/") != 0) fail("chroot: ");
	say("switched root: / is the verified SquashFS; starting " BINARY " as init", "");
}

int main(void) {
	mnt("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mnt("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mnt("devtmpfs", "/dev", MS_NOSUID | MS_NOEXEC);
	say("mounted /proc /sys /dev", "");
	if (VERIFIED_ROOT) enter_root();

	char *const argv[] = {"init", 0};
	char *const envp[] = {"PATH=/usr/bin", "HOME=/", "TERM=linux", "LANG=C.UTF-8", 0};
	execve(BINARY, argv, envp);
	/* EIO: a block of the binary failed verification (the kernel said which one above). */
	fail("cannot execute " BINARY ": ");
}
