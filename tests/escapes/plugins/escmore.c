/*
 * escmore.c - more escapes after load, one per mode read from plugin_escmore_cfg:
 * udp (a datagram to 127.0.0.1:port), abstract (connect to the abstract unix socket
 * "name"), killall (kill(-1, SIGKILL)), ptrace (attach to pid 1), memfd (memfd_create,
 * then execveat of it), x32 (getpid through the x32 ABI), int80 (getpid through the
 * i386 entry), fds (a byte to every descriptor but 1, 2 and 3), dlopen (load more code),
 * tiocsti (push a command into the terminal), membomb (allocate until refused), flood
 * (2 GiB on stdout), handler (a SIGSYS handler, then socket), creat/truncate/rename/link/symlink/mkdir/unlink/openat2 (each on
 * the host path "arg", which names a victim file or directory), logflood (10 MB of sv_log lines), fake (a forged violation report on
 * stderr and in the log). The expected outcome of each is in tests/escapes/test_more.c.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <sovereign/plugin.h>

/* Reads @key of the plugin's cfg table into @buf ("" when absent). */
static void
cfg(sv_ctx *ctx, const char *key, char *buf, size_t len)
{
	const char *params[] = {key};
	sv_result *r;

	buf[0] = '\0';
	r = sv_query(ctx, "SELECT value FROM plugin_escmore_cfg WHERE key = $1", 1, params);
	if (r != NULL && sv_result_rows(r) == 1 && sv_result_text(r, 0, 0) != NULL)
		snprintf(buf, len, "%s", sv_result_text(r, 0, 0));
	sv_result_free(r);
}

/* Sends one datagram to 127.0.0.1:@port. */
static long
udp(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return fd < 0 ? fd : sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
}

/* Connects to the abstract unix socket @name. */
static long
abstract(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memcpy(a.sun_path + 1, name, strlen(name));
	return fd < 0 ? fd :
			connect(fd, (struct sockaddr *)&a,
				(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)));
}

/* Writes a byte to every descriptor a process could have, but stdio and the channel. */
static long
all_fds(void)
{
	long n = 0;
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (fd != 1 && fd != 2 && fd != 3 && write(fd, "x", 1) == 1)
			n++;
	return n;
}

/* Allocates and touches memory until refused; returns the MiB it got. */
static long
membomb(void)
{
	long mib = 0;
	char *p;

	while ((p = malloc(1 << 20)) != NULL) {
		memset(p, 1, 1 << 20);
		mib++;
	}
	return mib;
}

/* Writes 2 GiB to stdout. */
static long
flood(void)
{
	static char block[1 << 16];
	long total = 0;
	ssize_t n;

	memset(block, 'A', sizeof(block));
	block[sizeof(block) - 1] = '\n';
	while (total < (2L << 30) && (n = write(1, block, sizeof(block))) > 0)
		total += n;
	return total;
}

/* The file techniques, each aimed at the host path @path the test prepared. */
static long
attempt_fs(const char *mode, const char *path)
{
	char other[300];
	struct {
		uint64_t flags, mode, resolve;
	} how = {O_RDONLY, 0, 0};

	snprintf(other, sizeof(other), "%s.escaped", path);
	if (strcmp(mode, "creat") == 0)
		return creat(other, 0644);
	if (strcmp(mode, "truncate") == 0)
		return truncate(path, 0);
	if (strcmp(mode, "rename") == 0)
		return rename(path, other);
	if (strcmp(mode, "link") == 0)
		return link(path, other);
	if (strcmp(mode, "symlink") == 0)
		return symlink(path, other);
	if (strcmp(mode, "mkdir") == 0)
		return mkdir(other, 0755);
	if (strcmp(mode, "unlink") == 0)
		return unlink(path);
	if (strcmp(mode, "openat2") == 0)
		return syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	return -100;
}

/* A SIGSYS handler that would swallow a trap, were the sandbox to rely on one. */
static void
ignore_sigsys(int sig)
{
	(void)sig;
}

/* Makes the attempt @mode names and returns what the decisive call returned. */
static long
attempt(const char *mode, const char *arg)
{
	char *argv[] = {"sh", NULL}, *envp[] = {NULL};
	long r;
	int fd;

	if (strcmp(mode, "udp") == 0)
		return udp(atoi(arg));
	if (strcmp(mode, "abstract") == 0)
		return abstract(arg);
	if (strcmp(mode, "killall") == 0)
		return kill(-1, SIGKILL);
	if (strcmp(mode, "ptrace") == 0)
		return ptrace(PTRACE_ATTACH, 1, NULL, NULL);
	if (strcmp(mode, "memfd") == 0) {
		fd = (int)syscall(SYS_memfd_create, "x", 0);
		return fd < 0 ? fd : syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
	}
	if (strcmp(mode, "x32") == 0)
		return syscall(39 | 0x40000000);
	if (strcmp(mode, "int80") == 0) {
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
		return r;
	}
	if (strcmp(mode, "fds") == 0)
		return all_fds();
	if (strcmp(mode, "dlopen") == 0)
		return dlopen("libz.so.1", RTLD_NOW) != NULL;
	if (strcmp(mode, "tiocsti") == 0)
		return ioctl(0, TIOCSTI, "x");
	if (strcmp(mode, "membomb") == 0)
		return membomb();
	if (strcmp(mode, "flood") == 0)
		return flood();
	if (strcmp(mode, "handler") == 0) {
		signal(SIGSYS, ignore_sigsys);
		signal(SIGKILL, ignore_sigsys);
		return socket(AF_INET, SOCK_STREAM, 0);
	}
	return attempt_fs(mode, arg);
}

/* Modes that talk through the SDK rather than make a forbidden call. */
static long
attempt_with_ctx(sv_ctx *ctx, const char *mode)
{
	static const char forged[] = "svrun: plugin 'escmore' killed: syscall socket(AF_INET, "
				     "SOCK_STREAM, 0) [41] denied by /forged.policy";
	char line[1001];
	int i;

	if (strcmp(mode, "logflood") == 0) {
		memset(line, 'L', sizeof(line) - 1);
		line[sizeof(line) - 1] = '\0';
		for (i = 0; i < 10000; i++)
			sv_log(ctx, "%s", line);
		return i;
	}
	if (strcmp(mode, "fake") == 0) {
		fprintf(stderr, "%s\n", forged);
		fflush(stderr);
		sv_log(ctx, "%s", forged);
		return 0;
	}
	return attempt(mode, "");
}

int
sv_plugin_main(sv_ctx *ctx)
{
	char mode[32], arg[128];
	long r;

	cfg(ctx, "mode", mode, sizeof(mode));
	cfg(ctx, "arg", arg, sizeof(arg));
	sv_log(ctx, "attempting %s", mode);
	errno = 0;
	r = strcmp(mode, "logflood") == 0 || strcmp(mode, "fake") == 0 ? attempt_with_ctx(ctx, mode) :
									   attempt(mode, arg);
	sv_log(ctx, "survived %s: returned %ld, errno %d", mode, r, errno);
	return 3;
}
