/*
 * ctor.c - attempts an escape from its constructor, before sv_plugin_main and before
 * the final filter: the mode (openw, connect, exec, fork, none) comes from ctor.cfg
 * beside the plugin file. The load-phase filter must contain it (no marker file, no
 * connection); sv_plugin_main then reports what the attempt returned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sovereign/plugin.h>

static char mode[32] = "(no cfg)";
static char marker[512];
static int port;
static long result = -2;
static int result_errno;

/* Reads all of a small file into @buf, NUL-terminated; returns its length or -1. */
static ssize_t
slurp(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Finds ctor.cfg beside the plugin (argv[5] of svrun-sandbox) and reads its three lines. */
static void
read_cfg(void)
{
	char cmdline[4096], path[4096], text[1024], *arg, *slash;
	ssize_t n;
	int i;

	if ((n = slurp("/proc/self/cmdline", cmdline, sizeof(cmdline))) <= 0)
		return;
	for (arg = cmdline, i = 0; i < 5 && arg < cmdline + n; i++)
		arg += strlen(arg) + 1;
	if (arg >= cmdline + n || (slash = strrchr(arg, '/')) == NULL)
		return;
	snprintf(path, sizeof(path), "%.*s/ctor.cfg", (int)(slash - arg), arg);
	if (slurp(path, text, sizeof(text)) <= 0)
		return;
	sscanf(text, "%31s %511s %d", mode, marker, &port);
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
