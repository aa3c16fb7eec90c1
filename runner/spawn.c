/*
 * spawn.c - start a plugin's sandboxed child: socketpair, pipes, fork, execve.
 *
 * Between fork and execve the child is a copy of the broker, credentials included, so
 * it does only what must happen before the new image starts (descriptors, process
 * group, parent-death signal) and executes svrun-sandbox at once. Every descriptor the
 * broker holds is close-on-exec, and the helper closes anything left over.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

uint64_t
sv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* In the forked child: wire the descriptors and execute the helper; never returns. */
static SV_NORETURN void
exec_helper(const struct sv_spawn_args *a, int chan, int out, int err, pid_t broker)
{
	char cpu[32], as[32], nofile[32], idenv[96];
	char *argv[7], *envp[3];
	int null;

	/* The helper sets this too; setting it here closes the window before execve. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != broker)
		_exit(SV_EXIT_FAILURE);
	if (setpgid(0, 0) < 0)
		_exit(SV_EXIT_FAILURE);
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		_exit(SV_EXIT_FAILURE);
	/* dup2 clears close-on-exec on the copies: exactly these four survive execve. */
	if (dup2(null, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(err, STDERR_FILENO) < 0 || dup2(chan, SV_CHANNEL_FD) < 0)
		_exit(SV_EXIT_FAILURE);
	snprintf(cpu, sizeof(cpu), "%lu", a->cpu_seconds);
	snprintf(as, sizeof(as), "%lu", a->address_space);
	snprintf(nofile, sizeof(nofile), "%lu", a->open_files);
	snprintf(idenv, sizeof(idenv), "SVRUN_PLUGIN=%s", a->id);
	argv[0] = "svrun-sandbox";
	argv[1] = (char *)a->policy;
	argv[2] = cpu;
	argv[3] = as;
	argv[4] = nofile;
	argv[5] = (char *)a->plugin;
	argv[6] = NULL;
	/* A fixed environment: nothing of the operator's (LD_PRELOAD, secrets) crosses. */
	envp[0] = "LC_ALL=C";
	envp[1] = idenv;
	envp[2] = NULL;
	execve(a->helper, argv, envp);
	dprintf(err, "svrun: cannot execute %s: %s\n", a->helper, strerror(errno));
	_exit(SV_EXIT_FAILURE);
}

int
sv_spawn(const struct sv_spawn_args *a, struct sv_child *c, char *err, size_t errlen)
{
	sv_autoclose int chan_child = -1;
	sv_autoclose int out_w = -1;
	sv_autoclose int err_w = -1;
	int sp[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
	pid_t broker = getpid(), pid;
	int pidfd, r;

	c->pid = -1;
	c->pidfd = c->chan = c->out = c->err = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create the channel: %s", strerror(errno));
		goto fail;
	}
	c->chan = sp[0];
	chan_child = sp[1];
	c->out = po[0];
	out_w = po[1];
	c->err = pe[0];
	err_w = pe[1];
	sp[0] = sp[1] = po[0] = po[1] = pe[0] = pe[1] = -1;
	if ((pid = fork()) < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		exec_helper(a, chan_child, out_w, err_w, broker);
	/* Also set here: the group must exist before we may ever signal it. */
	setpgid(pid, pid);
	c->pid = pid;
	if ((pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		r = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		goto fail;
	}
	c->pidfd = pidfd;
	/* The broker never blocks on a plugin: every read of its channel is non-blocking. */
	if (fcntl(c->chan, F_SETFL, O_NONBLOCK) < 0 || fcntl(c->out, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(c->err, F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		sv_closep(&sp[i]);
		sv_closep(&po[i]);
		sv_closep(&pe[i]);
	}
	sv_child_destroy(c);
	return r;
}

void
sv_child_destroy(struct sv_child *c)
{
	if (c->pid > 0) {
		/* The whole group: whatever the plugin managed to start goes with it. */
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
	}
	sv_closep(&c->pidfd);
	sv_closep(&c->chan);
	sv_closep(&c->out);
	sv_closep(&c->err);
}
