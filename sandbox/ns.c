/*
 * ns.c - the filesystem view of a sandboxed plugin: an empty root with only what loading
 * needs, read-only, in the mount namespace the broker created the child in.
 *
 * The broker starts the child in new user, PID, network, IPC, UTS and mount namespaces
 * (runner/spawn.c). Here the child, still holding capabilities inside its own user
 * namespace, makes every mount private, builds a root on a fresh tmpfs that holds /usr
 * (and the /lib links of a merged-/usr system), /etc/ld.so.cache and the plugin, all
 * bind-mounted read-only, pivots into it and detaches the old root. Nothing of the
 * host's files, sockets or processes is reachable from there; see mount_namespaces(7)
 * and pivot_root(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

/* Where the new root is assembled, on a tmpfs mounted over it in our namespace only. */
#define STAGE "/tmp"
#define NEWROOT STAGE "/root"

/* Host paths a dynamically linked plugin needs to load, bound read-only when present. */
static const char *const loader_paths[] = {"/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache"};

/* Mounts @flags on @target or dies naming it. */
static void
do_mount(const char *src, const char *target, const char *type, unsigned long flags,
	 const char *data)
{
	if (mount(src, target, type, flags, data) < 0)
		sv_pdie("mount %s on %s", src ? src : "(none)", target);
}

/* Makes an empty file or directory at @path, to bind something of the same kind over. */
static void
make_mountpoint(const char *path, int dir)
{
	int fd;

	if (dir) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			sv_pdie("mkdir %s", path);
		return;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		sv_pdie("create %s", path);
	close(fd);
}

/* Makes every parent directory of @path under the new root. */
static void
make_parents(const char *path)
{
	char buf[PATH_MAX], *p;

	if (sv_strlcpy(buf, path, sizeof(buf)) < 0)
		sv_die("path too long: %s", path);
	for (p = buf + strlen(NEWROOT) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		make_mountpoint(buf, 1);
		*p = '/';
	}
}

/*
 * Binds host @src read-only at @dst inside the new root; with @keep_links, a symlink is
 * copied as a link, otherwise followed.
 */
static void
bind_ro(const char *src, const char *dst_in_root, int keep_links)
{
	char dst[PATH_MAX], link[PATH_MAX];
	struct stat st;
	ssize_t n;

	if ((keep_links ? lstat(src, &st) : stat(src, &st)) < 0) {
		if (errno == ENOENT)
			return;
		sv_pdie("stat %s", src);
	}
	if (sv_snprintf(dst, sizeof(dst), "%s%s", NEWROOT, dst_in_root) < 0)
		sv_die("path too long: %s", dst_in_root);
	make_parents(dst);
	/* A merged-/usr system's /lib is a link into /usr: the same link, not a second mount. */
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(src, link, sizeof(link) - 1)) < 0)
			sv_pdie("readlink %s", src);
		link[n] = '\0';
		if (symlink(link, dst) < 0)
			sv_pdie("symlink %s", dst);
		return;
	}
	make_mountpoint(dst, S_ISDIR(st.st_mode));
	do_mount(src, dst, NULL, MS_BIND | MS_REC, NULL);
	/* A bind mount takes the read-only flag only on a remount (mount(2)). */
	do_mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

void
sv_sandbox_enter_root(const char *plugin_path)
{
	size_t i;

	/* Nothing we mount may propagate back to the host, nor the host's mounts to us. */
	do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	do_mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755");
	make_mountpoint(NEWROOT, 1);
	do_mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755");
	for (i = 0; i < sizeof(loader_paths) / sizeof(loader_paths[0]); i++)
		bind_ro(loader_paths[i], loader_paths[i], 1);
	/* Through the descriptor opened before /tmp was covered: the plugin may live there. */
	bind_ro(plugin_path, SV_SANDBOX_PLUGIN_PATH, 0);

	/* pivot_root(".", ".") stacks the old root under the new one; detach it at once. */
	if (chdir(NEWROOT) < 0)
		sv_pdie("chdir %s", NEWROOT);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		sv_pdie("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		sv_pdie("detach the old root");
	if (chdir("/") < 0)
		sv_pdie("chdir /");
	/* The root itself is read-only too: the plugin has nowhere to write. */
	do_mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
	if (sethostname("sandbox", 7) < 0)
		sv_pdie("sethostname");
}
