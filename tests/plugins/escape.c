/*
 * escape.c - once loaded, attempts the escape named by "mode" in its table
 * plugin_escape_cfg: openw (create the "marker" file), readhost (read /etc/hostname),
 * connect (TCP to 127.0.0.1:"port"), exec (sh -c "touch marker"), fork (a child touching
 * the marker). The final seccomp filter must kill it at the attempt (svrun exit 128).
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

/* Reads @key of the plugin's cfg table into @buf; returns 0, or -1 if absent. */
static int
cfg(sv_ctx *ctx, const char *key, char *buf, size_t len)
{
	const char *params[] = {key};
	sv_result *r;
	int ret = -1;

	buf[0] = '\0';
	r = sv_query(ctx, "SELECT value FROM plugin_escape_cfg WHERE key = $1", 1, params);
	if (r != NULL && sv_result_rows(r) == 1 && sv_result_text(r, 0, 0) != NULL) {
		snprintf(buf, len, "%s", sv_result_text(r, 0, 0));
		ret = 0;
	}
	sv_result_free(r);
	return ret;
}

/* Makes the attempt @mode names; returns what the decisive call returned. */
static int
attempt(sv_ctx *ctx, const char *mode, const char *marker, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char cmd[600], buf[256];
	char *argv[] = {"sh", "-c", cmd, NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", NULL};
	ssize_t n;
	int fd;
	pid_t pid;

	if (strcmp(mode, "openw") == 0)
		return open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (strcmp(mode, "readhost") == 0) {
		if ((fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC)) < 0)
			return fd;
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			sv_log(ctx, "read %zd bytes: %.*s", n, (int)n, buf);
		return (int)n;
	}
	if (strcmp(mode, "connect") == 0) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return fd;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons((unsigned short)port);
		return connect(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (strcmp(mode, "exec") == 0) {
		snprintf(cmd, sizeof(cmd), "touch '%s'", marker);
		return execve("/bin/sh", argv, envp);
	}
	if (strcmp(mode, "fork") == 0) {
		if ((pid = fork()) == 0) {
			close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
			_exit(0);
		}
		return pid;
	}
	sv_log(ctx, "unknown mode '%s'", mode);
	errno = EINVAL;
	return -1;
}

/* Reads its orders, announces the attempt, makes it, and reports if it survived. */
int
sv_plugin_main(sv_ctx *ctx)
{
	char mode[32], marker[512], port[16];
	int ret;

	if (cfg(ctx, "mode", mode, sizeof(mode)) < 0) {
		sv_log(ctx, "no mode in plugin_escape_cfg: %s", sv_errmsg(ctx));
		return 2;
	}
	cfg(ctx, "marker", marker, sizeof(marker));
	cfg(ctx, "port", port, sizeof(port));
	sv_log(ctx, "attempting %s", mode);
	ret = attempt(ctx, mode, marker, atoi(port));
	sv_log(ctx, "survived %s: returned %d, errno %d", mode, ret, errno);
	return 3;
}
