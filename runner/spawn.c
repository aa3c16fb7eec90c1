/*
 * spawn.c - start a plugin's sandboxed child: socketpair, pipes, fork, execve; or, in a
 * run of several plugins, the zygote that forks them.
 *
 * Between fork and execve the child is a copy of the broker, credentials included, so
 * it does only what must happen before the new image starts (descriptors, process
 * group, parent-death signal) and executes svrun-sandbox at once. Every descriptor the
 * broker holds is close-on-exec, and the helper closes anything left over. The zygote is
 * executed the same way, before any plugin runs, and the sandboxes it forks come from
 * its fresh image, never from the broker's (sandbox/zygote.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

/* In the new child: wait for the broker's go, wire the descriptors, execute the helper. */
static SV_NORETURN void
exec_helper(const struct sv_spawn_args *a, int chan, int out, int err, int go, const char *mode)
{
	char cpu[32], as[32], nofile[32], idenv[96], byte;
	char *argv[8], *envp[3];
	sigset_t none;
	int null;

	/*
	 * The helper sets this too; setting it here closes the window before execve. The go
	 * byte comes after the broker wrote our id maps; end of file instead means the
	 * broker is gone (in a new PID namespace getppid() cannot tell).
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || read(go, &byte, 1) != 1)
		_exit(SV_EXIT_FAILURE);
	/* The broker blocks its stop signals (it takes them through a signalfd); not ours. */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
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
	argv[1] = cpu;
	argv[2] = as;
	argv[3] = nofile;
	argv[4] = (char *)(a->allow_missing ? a->allow_missing : "-");
	argv[5] = (char *)mode;
	argv[6] = (char *)a->plugin;
	argv[7] = NULL;
	/* A fixed environment: nothing of the operator's (LD_PRELOAD, secrets) crosses. */
	envp[0] = "LC_ALL=C";
	envp[1] = idenv;
	envp[2] = NULL;
	execve(a->helper, argv, envp);
	dprintf(err, "svrun: cannot execute %s: %s\n", a->helper, strerror(errno));
	_exit(SV_EXIT_FAILURE);
}

/* The layer names --allow-missing takes for the namespaces. */
static const char *const ns_layers[] = {"userns", "pidns", "netns", "ipcns", "utsns", "mountns"};

/* Whether the comma-separated @list names @layer. */
static int
listed(const char *list, const char *layer)
{
	size_t n = strlen(layer);
	const char *p;

	for (p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (strncmp(p, layer, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

int
sv_allow_missing_check(const char *list, char *err, size_t errlen)
{
	static const char *const known[] = {"userns", "pidns", "netns", "ipcns",
					    "utsns", "mountns", "landlock"};
	char word[32];
	const char *p, *e;
	size_t i, n;

	for (p = list; p && *p; p = *e ? e + 1 : e) {
		e = strchr(p, ',') ? strchr(p, ',') : p + strlen(p);
		n = (size_t)(e - p);
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (strlen(known[i]) == n && strncmp(p, known[i], n) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(word, sizeof(word), "%.*s", (int)(n < 31 ? n : 31), p);
			snprintf(err, errlen, "unknown sandbox layer '%s' in --allow-missing (known: "
					      "userns pidns netns ipcns utsns mountns landlock)",
				 word);
			return -EINVAL;
		}
	}
	return 0;
}

/* Writes @text to /proc/@pid/@file, for the id maps of a child's user namespace. */
static int
write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = -errno;
	close(fd);
	return r;
}

/*
 * Maps the child's ids. Started by root: inside 0 is root only until the helper switches
 * to inside SV_NOBODY_ID, which is nobody outside too; inside 0 has capabilities only over its
 * own namespaces. Started by a user: inside 0 is that user, the only id it may map.
 */
static int
map_ids(pid_t pid, char *err, size_t errlen)
{
	char map[64];
	int r;

	if (geteuid() == 0) {
		snprintf(map, sizeof(map), "0 0 1\n%u %u 1\n", SV_NOBODY_ID, SV_NOBODY_ID);
		if ((r = write_proc(pid, "uid_map", map)) < 0 ||
		    (r = write_proc(pid, "gid_map", map)) < 0)
			goto fail;
		return 0;
	}
	if ((r = write_proc(pid, "setgroups", "deny")) < 0)
		goto fail;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)geteuid());
	if ((r = write_proc(pid, "uid_map", map)) < 0)
		goto fail;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)getegid());
	if ((r = write_proc(pid, "gid_map", map)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot map the sandbox's user ids: %s", strerror(-r));
	return r;
}

/* The first namespace layer --allow-missing does not name, or NULL when it names all. */
static const char *
required_ns_layer(const struct sv_spawn_args *a)
{
	for (size_t i = 0; i < sizeof(ns_layers) / sizeof(ns_layers[0]); i++)
		if (!listed(a->allow_missing, ns_layers[i]))
			return ns_layers[i];
	return NULL;
}

/* Says in @err that the kernel refused the namespaces with @error; returns -EPERM. */
static int
refuse_ns(int error, const char *layer, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot create the sandbox's namespaces: %s (run svrun doctor; "
			      "--allow-missing=%s,... runs without them)",
		 strerror(error), layer);
	return -EPERM;
}

/* Logs that the child runs without namespaces, which the operator allowed. */
static void
warn_no_ns(const struct sv_spawn_args *a, int error)
{
	sv_warn("plugin '%s': running without namespaces (%s): asked by --allow-missing", a->id,
		strerror(error));
}

/*
 * Starts the child in new namespaces (clone3, which also returns a pidfd), or, when the
 * kernel refuses and the operator allowed every namespace layer to be missing, with a
 * plain fork. Returns the pid or -errno; *@ns says which happened.
 */
static pid_t
start_child(const struct sv_spawn_args *a, int *pidfd, int *ns, char *err, size_t errlen)
{
	struct clone_args ca;
	const char *layer;
	pid_t pid;

	memset(&ca, 0, sizeof(ca));
	ca.flags = SV_NS_FLAGS | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	*ns = 1;
	if ((pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca))) >= 0)
		return pid;
	if ((layer = required_ns_layer(a)) != NULL)
		return refuse_ns(errno, layer, err, errlen);
	warn_no_ns(a, errno);
	*ns = 0;
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -errno;
	}
	if (pid > 0 && (*pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -errno;
	}
	return pid;
}

/* How long svrun waits for the zygote's answer before it gives up on the zygote. */
#define ZYGOTE_ANSWER_SECONDS 10

/* In the new child: executes the zygote on @sock, with nothing of svrun's but stderr. */
static SV_NORETURN void
exec_zygote(const char *helper, int sock)
{
	char *argv[] = {"svrun-sandbox", "--zygote", NULL};
	char *envp[] = {"LC_ALL=C", NULL};
	sigset_t none;
	int null;

	sigemptyset(&none);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) < 0 ||
	    setpgid(0, 0) < 0 || (null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		_exit(SV_EXIT_FAILURE);
	if (dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(sock, SV_CHANNEL_FD) < 0)
		_exit(SV_EXIT_FAILURE);
	execve(helper, argv, envp);
	dprintf(STDERR_FILENO, "svrun: cannot execute %s: %s\n", helper, strerror(errno));
	_exit(SV_EXIT_FAILURE);
}

int
sv_zygote_start(const char *helper, struct sv_zygote *z, char *err, size_t errlen)
{
	struct timeval wait = {.tv_sec = ZYGOTE_ANSWER_SECONDS};
	int sv[2] = {-1, -1}, r;

	z->pid = -1;
	z->sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) < 0 ||
	    (z->pid = fork()) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot start the sandbox zygote: %s", strerror(errno));
		sv_closep(&sv[0]);
		sv_closep(&sv[1]);
		return r;
	}
	if (z->pid == 0)
		exec_zygote(helper, sv[1]);
	close(sv[1]);
	z->sock = sv[0];
	return 0;
}

void
sv_zygote_stop(struct sv_zygote *z)
{
	sv_closep(&z->sock);
	if (z->pid > 0) {
		kill(z->pid, SIGKILL);
		while (waitpid(z->pid, NULL, 0) < 0 && errno == EINTR)
			;
		z->pid = -1;
	}
}

/*
 * Packs the request for @a's sandbox into @msg: the header with @flags, then the
 * strings. Returns its length, or 0 when they do not fit.
 */
static size_t
pack_request(const struct sv_spawn_args *a, const char *mode, uint32_t flags, char *msg,
	      size_t size)
{
	struct sv_zygote_request head = {.magic = SV_ZYGOTE_MAGIC, .flags = flags};
	char cpu[32], as[32], nofile[32];
	const char *args[SV_ZYGOTE_ARGS];
	size_t len = sizeof(head), n;

	snprintf(cpu, sizeof(cpu), "%lu", a->cpu_seconds);
	snprintf(as, sizeof(as), "%lu", a->address_space);
	snprintf(nofile, sizeof(nofile), "%lu", a->open_files);
	args[0] = cpu;
	args[1] = as;
	args[2] = nofile;
	args[3] = a->allow_missing ? a->allow_missing : "-";
	args[4] = mode;
	args[5] = a->plugin;
	args[6] = a->id;
	memcpy(msg, &head, sizeof(head));
	for (size_t i = 0; i < SV_ZYGOTE_ARGS; i++) {
		if ((n = strlen(args[i]) + 1) > size - len)
			return 0;
		memcpy(msg + len, args[i], n);
		len += n;
	}
	return len;
}

/*
 * Has the zygote fork the child with @fds (channel, stdout, stderr, go pipe) and opens
 * a pidfd for it, which the broker may: the child is its own. Returns the pid, or
 * -errno; *@ns says whether it has its namespaces. A zygote that does not answer is
 * stopped: an answer late for one request must never be read as the next one's.
 */
static pid_t
ask_zygote(const struct sv_spawn_args *a, const char *mode, const int fds[SV_ZYGOTE_FDS],
	   int *pidfd, int *ns, char *err, size_t errlen)
{
	static char msg[SV_ZYGOTE_REQUEST_MAX];
	const char *layer = required_ns_layer(a);
	struct sv_zygote_answer ans;
	size_t len;
	int r;

	if ((len = pack_request(a, mode, layer ? 0 : SV_ZYGOTE_NS_OPTIONAL, msg, sizeof(msg))) ==
	    0) {
		snprintf(err, errlen, "the plugin's path is too long for the sandbox zygote");
		return -ENAMETOOLONG;
	}
	errno = 0;
	if (sv_send_with_fds(a->zygote->sock, msg, len, fds, SV_ZYGOTE_FDS, MSG_NOSIGNAL) !=
		    (ssize_t)len ||
	    recv(a->zygote->sock, &ans, sizeof(ans), 0) != (ssize_t)sizeof(ans) ||
	    ans.pid == 0) {
		r = errno ? -errno : -EPROTO;
		snprintf(err, errlen, "the sandbox zygote did not answer (%s); it is stopped, and "
				      "svrun forks the next sandboxes itself",
			 strerror(-r));
		sv_zygote_stop(a->zygote);
		return r;
	}
	if (ans.pid == -EPROTO) {
		snprintf(err, errlen, "the sandbox zygote refused svrun's request");
		return -EPROTO;
	}
	if (ans.pid < 0 && layer)
		return refuse_ns(-ans.pid, layer, err, errlen);
	if (ans.pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(-ans.pid));
		return ans.pid;
	}
	/* Fail closed: a sandbox without the namespaces it must have never gets its go. */
	if (!ans.ns && layer) {
		r = refuse_ns(ans.error, layer, err, errlen);
		goto drop;
	}
	if ((*pidfd = (int)syscall(SYS_pidfd_open, ans.pid, 0)) < 0) {
		r = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		goto drop;
	}
	if (!(*ns = ans.ns))
		warn_no_ns(a, ans.error);
	return ans.pid;
drop:
	kill(ans.pid, SIGKILL);
	waitpid(ans.pid, NULL, 0);
	return r;
}

int
sv_spawn(const struct sv_spawn_args *a, struct sv_child *c, char *err, size_t errlen)
{
	sv_autoclose int chan_child = -1;
	sv_autoclose int out_w = -1;
	sv_autoclose int err_w = -1;
	sv_autoclose int go_r = -1;
	sv_autoclose int go_w = -1;
	int sp[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, gp[2] = {-1, -1};
	/* Decided here: in the new user namespace the child's ids read 65534 until mapped. */
	const char *root_mode = geteuid() == 0 ? "ns-root" : "ns-user";
	int pidfd = -1, ns = 0, r;
	pid_t pid;

	c->pid = -1;
	c->pidfd = c->chan = c->out = c->err = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(gp, O_CLOEXEC) < 0) {
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
	go_r = gp[0];
	go_w = gp[1];
	sp[0] = sp[1] = po[0] = po[1] = pe[0] = pe[1] = gp[0] = gp[1] = -1;
	if (a->zygote && a->zygote->sock >= 0)
		pid = ask_zygote(a, root_mode, (const int[]){chan_child, out_w, err_w, go_r}, &pidfd,
				 &ns, err, errlen);
	else
		pid = start_child(a, &pidfd, &ns, err, errlen);
	if (pid < 0) {
		r = pid;
		goto fail;
	}
	if (pid == 0) {
		close(go_w);
		exec_helper(a, chan_child, out_w, err_w, go_r, ns ? root_mode : "nons");
	}
	/* Also set here: the group must exist before we may ever signal it. */
	setpgid(pid, pid);
	c->pid = pid;
	c->pidfd = pidfd;
	if (ns && (r = map_ids(pid, err, errlen)) < 0)
		goto fail;
	if (write(go_w, "g", 1) != 1) {
		r = -errno;
		snprintf(err, errlen, "cannot start the sandbox: %s", strerror(errno));
		goto fail;
	}
	/*
	 * The broker never waits on a plugin's output; the channel stays blocking for the
	 * broker's answers (bounded by SO_SNDTIMEO) and is read with MSG_DONTWAIT.
	 */
	if (fcntl(c->out, F_SETFL, O_NONBLOCK) < 0 || fcntl(c->err, F_SETFL, O_NONBLOCK) < 0) {
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
		sv_closep(&gp[i]);
	}
	sv_child_destroy(c);
	return r;
}

int
sv_child_send_filters(struct sv_child *c, const uint8_t *filters, size_t len, char *err,
		      size_t errlen)
{
	ssize_t sent;
	int r;

	/* They wait in the socket's buffer, far larger than their 64 KiB: nothing blocks. */
	if ((sent = send(c->chan, filters, len, MSG_DONTWAIT | MSG_NOSIGNAL)) == (ssize_t)len)
		return 0;
	r = sent < 0 ? -errno : -EMSGSIZE;
	snprintf(err, errlen, "cannot hand the sandbox its seccomp programs: %s", strerror(-r));
	return r;
}

int
sv_child_release(struct sv_child *c, char *err, size_t errlen)
{
	static const char release = SV_RELEASE_BYTE;
	int r;

	if (send(c->chan, &release, 1, MSG_NOSIGNAL) == 1)
		return 0;
	r = -errno;
	snprintf(err, errlen, "cannot release the sandbox: %s", strerror(-r));
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
