/*
 * fd.c - leaves the sandboxed child with stdio and the broker channel only.
 *
 * Any other inherited descriptor is a way around the policy: a database file, a socket
 * or a directory the plugin could use through syscalls that take a descriptor. The
 * kernel closes them in one call where it can; otherwise /proc/self/fd is walked. Either
 * way the result is checked, and the sandbox dies if anything else is still open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

/* Whether @fd is one of the descriptors the plugin keeps. */
static int
kept(int fd, int channel_fd)
{
	return fd <= STDERR_FILENO || fd == channel_fd;
}

/*
 * Walks /proc/self/fd: closes every descriptor not kept when @do_close, otherwise counts
 * them. Returns the number of descriptors found that are not kept, or -errno.
 */
static int
walk_fds(int channel_fd, int do_close)
{
	struct dirent *de;
	DIR *dir;
	long fd;
	int n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -errno;
	while ((de = readdir(dir)) != NULL) {
		if (sv_parse_long(de->d_name, 0, INT_MAX, &fd) < 0)
			continue;
		if (fd == dirfd(dir) || kept((int)fd, channel_fd))
			continue;
		n++;
		/* close() of an open descriptor only fails with EINTR/EIO after it is gone. */
		if (do_close)
			close((int)fd);
	}
	closedir(dir);
	return n;
}

/* Closes everything above stdio but the channel with close_range(2). Returns 0 or -errno. */
static int
close_ranges(int channel_fd)
{
	/* close_range(2) closes the whole range in the kernel and opens nothing to do it. */
	if (channel_fd > STDERR_FILENO + 1 &&
	    close_range(STDERR_FILENO + 1, (unsigned int)channel_fd - 1, 0) < 0)
		return -errno;
	if (close_range((unsigned int)channel_fd + 1, ~0U, 0) < 0)
		return -errno;
	return 0;
}

void
sv_sandbox_keep_fds(int channel_fd)
{
	int r;

	if (channel_fd <= STDERR_FILENO)
		sv_die("channel descriptor %d collides with stdio", channel_fd);
	if (fcntl(channel_fd, F_GETFD) < 0)
		sv_pdie("channel descriptor %d", channel_fd);
	if (close_ranges(channel_fd) < 0 && (r = walk_fds(channel_fd, 1)) < 0)
		sv_die("cannot close inherited descriptors: %s", strerror(-r));
	/*
	 * Fail closed: look at what is left. Where /proc is not mounted, close_range()
	 * reporting success for the whole range is the proof, since the walk above ran
	 * only if it failed.
	 */
	if ((r = walk_fds(channel_fd, 0)) > 0)
		sv_die("%d inherited descriptors are still open", r);
}
