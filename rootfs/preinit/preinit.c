/*
 * Bunker's pre-init: the initramfs /init. Bun aborts at start-up without /proc, so this mounts
 * /proc, /sys and /dev, replaces the environment the kernel built from unknown command-line
 * words (a compiled Bun binary obeys BUN_OPTIONS and BUN_BE_BUN) with a fixed one, and execs the
 * one binary as `init`, keeping PID 1. On failure it says why on the console, waits 10 s and
 * reboots: a panic loop would hide the message.
 * Built static with musl-gcc -Os by rootfs/build; the only program in the image not in TypeScript.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#define BINARY "/usr/bin/bunker"

static void say(const char *a, const char *b) {
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd < 0) fd = 2;
	write(fd, "[preinit] ", 10);
	write(fd, a, strlen(a));
	write(fd, b, strlen(b));
	write(fd, "\n", 1);
	if (fd != 2) close(fd);
}

static void fail(const char *what) {
	say(what, strerror(errno));
	say("rebooting in 10 s", "");
	sleep(10);
	sync();
	reboot(RB_AUTOBOOT);
	for (;;) pause(); /* reboot() failed: never return, never exit (that would panic) */
}

static void mnt(const char *type, const char *dir, unsigned long flags) {
	/* EBUSY: already mounted (e.g. a kernel with DEVTMPFS_MOUNT); keep going. */
	if (mount(type, dir, type, flags, 0) != 0 && errno != EBUSY) {
		say("cannot mount ", dir);
		fail("mount: ");
	}
}

int main(void) {
	mnt("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mnt("sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC);
	mnt("devtmpfs", "/dev", MS_NOSUID | MS_NOEXEC);
	say("mounted /proc /sys /dev; starting ", BINARY " as init");
	char *const argv[] = {"init", 0};
	char *const envp[] = {"PATH=/usr/bin", "HOME=/", "TERM=linux", "LANG=C.UTF-8", 0};
	execve(BINARY, argv, envp);
	fail("cannot execute " BINARY ": ");
	return 1;
}
