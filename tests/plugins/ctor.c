/*
 * ctor.c - attempts an escape from its constructor, before sv_plugin_main and before
 * the final filter: the mode (openw, connect, exec, fork, say, none) comes from a line
 * "SVCFG mode marker port" the test appends to a copy of this very .so (the loader
 * ignores trailing bytes), read through the path it was loaded from. The load-phase
 * filter must contain the attempt (no marker file, no connection); sv_plugin_main then
 * reports what the attempt returned. Mode "say" only writes "ctor ran" to stdout, so a
 * test can tell when plugin code first ran.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sovereign/plugin.h>

static char mode[32] = "(no cfg)";
static char marker[512];
static int port;
static long result = -2;
static int result_errno;

static void attempt_early(void);

/* Reads the "SVCFG mode marker port" line at the end of the file this code was loaded from. */
static void
read_cfg(void)
{
	static char text[4096];
	const char *line;
	Dl_info info;
	struct stat st;
	off_t size;
	ssize_t n;
	int fd;

	if (dladdr((void *)attempt_early, &info) == 0 || info.dli_fname == NULL)
		return;
	if ((fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	/* fstat, not lseek: the load phase allows what the loader itself uses. */
	if (fstat(fd, &st) < 0) {
		close(fd);
		return;
	}
	size = st.st_size;
	n = pread(fd, text, sizeof(text) - 1, size > (off_t)sizeof(text) - 1 ?
						  size - (off_t)sizeof(text) + 1 :
						  0);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	if ((line = memmem(text, (size_t)n, "SVCFG ", 6)) != NULL)
		sscanf(line + 6, "%31s %511s %d", mode, marker, &port);
}

/* Runs inside dlopen(), under the load-phase filter only: the attempt under test. */
__attribute__((constructor)) static void
attempt_early(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char cmd[600];
	char *argv[] = {"sh", "-c", cmd, NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	int fd;

	read_cfg();
	errno = 0;
	if (strcmp(mode, "openw") == 0) {
		result = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	} else if (strcmp(mode, "connect") == 0) {
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((unsigned short)port);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		result = fd < 0 ? fd : connect(fd, (struct sockaddr *)&a, sizeof(a));
	} else if (strcmp(mode, "exec") == 0) {
		snprintf(cmd, sizeof(cmd), "touch '%s'", marker);
		result = execve("/bin/sh", argv, envp);
	} else if (strcmp(mode, "fork") == 0) {
		result = fork();
		if (result == 0) {
			close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
			_exit(0);
		}
	} else if (strcmp(mode, "say") == 0) {
		result = write(STDOUT_FILENO, "ctor ran\n", 9);
	} else if (strcmp(mode, "none") == 0) {
		result = 0;
	}
	result_errno = errno;
}

/* Reports what the constructor's attempt returned. */
int
sv_plugin_main(sv_ctx *ctx)
{
	sv_log(ctx, "ctor mode=%s result=%ld errno=%d", mode, result, result_errno);
	return 0;
}
