/*
 * test_sandbox.c - the sandbox primitives, applied to real processes.
 *
 * Each confinement step is applied in a child forked by the test, which reports through
 * its exit status (0, or the number of the check that failed) or dies of the signal the
 * test expects; the test process itself stays unconfined to judge it. Kills are checked
 * from the parent together with their side effect: no file, no process, no return.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "policy/policy.h"
#include "sandbox/sandbox.h"

/* The final policy of these tests: what the children do after their last filter. */
/* clang-format off */
static const char test_policy[] =
	"brk: 1                        # malloc\n"
	"close: 1                      # descriptors the test child opened\n"
	"exit_group: 1                 # the child's _exit()\n"
	"getpid: 1                     # a harmless call, the positive control\n"
	"mmap: arg2 & PROT_EXEC == 0   # malloc of large blocks\n"
	"munmap: 1                     # free of large blocks\n"
	"sendmsg: 1                    # hands the notification descriptor to the test\n"
	"write: 1                      # reports to the test through a pipe\n";
/* clang-format on */

/* Forks, runs @fn in the child and exits with its result; returns the wait status. */
static int
run_child(int (*fn)(void *), void *arg)
{
	pid_t pid;
	int status;

	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Asserts that the child exited with status 0, naming the failed check otherwise. */
static void
assert_child_ok(int status)
{
	cr_assert(WIFEXITED(status), "child died of signal %d",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0, "child failed check %d", WEXITSTATUS(status));
}

/* Asserts that the child was killed by SIGSYS, i.e. by a seccomp filter. */
static void
assert_child_sigsys(int status)
{
	cr_assert(WIFSIGNALED(status), "child was not killed; exit status %d",
		  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	cr_assert_eq(WTERMSIG(status), SIGSYS, "child died of signal %d", WTERMSIG(status));
}

/* Copies the value of "@key:" in /proc/self/status into @val. Returns 0 or -1. */
static int
status_field(const char *key, char *val, size_t len)
{
	char line[512];
	size_t klen = strlen(key);
	FILE *f;
	int r = -1;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(val, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
			val[strcspn(val, "\n")] = '\0';
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

/* A capability set from /proc/self/status as a number; ~0 when unreadable. */
static unsigned long long
status_caps(const char *key)
{
	char val[64];

	if (status_field(key, val, sizeof(val)) < 0)
		return ~0ULL;
	return strtoull(val, NULL, 16);
}

/* Whether all four ids of a "Uid:" or "Gid:" line of /proc/self/status equal @id. */
static int
status_ids_are(const char *key, unsigned int id)
{
	unsigned int a, b, c, d;
	char val[128];

	if (status_field(key, val, sizeof(val)) < 0)
		return 0;
	if (sscanf(val, "%u %u %u %u", &a, &b, &c, &d) != 4)
		return 0;
	return a == id && b == id && c == id && d == id;
}

/* The test policy, parsed; the policy module's own tests cover the parser. */
static struct sv_policy *
load_test_policy(void)
{
	struct sv_policy *p = NULL;
	char err[256];

	if (sv_policy_parse("test.policy", test_policy, &p, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	return p;
}

/*
 * Hands @len bytes of seccomp programs to the sandbox's reader the way the broker does,
 * through a descriptor, and returns its handle (the reader dies on a malformed one).
 */
static void *
read_programs(const void *bytes, size_t len)
{
	int fds[2];
	void *filters;

	if (pipe(fds) < 0 || write(fds[1], bytes, len) != (ssize_t)len)
		return NULL;
	close(fds[1]);
	filters = sv_sandbox_read_filters(fds[0]);
	close(fds[0]);
	return filters;
}

/* The test policy's two programs, compiled as the broker compiles them; NULL on error. */
static void *
test_programs(void)
{
	struct sv_policy *p = load_test_policy();
	uint8_t *bytes = NULL;
	void *filters = NULL;
	char err[512];
	size_t len;

	if (p == NULL)
		return NULL;
	if (sv_policy_filters(p, &bytes, &len, err, sizeof(err)) < 0)
		fprintf(stderr, "%s\n", err);
	else
		filters = read_programs(bytes, len);
	free(bytes);
	sv_policy_free(p);
	return filters;
}

/* Sets no_new_privs and loads the load-phase filter of the test policy; NULL on error. */
static void *
enter_load_phase(void)
{
	void *filters = test_programs();

	if (filters == NULL)
		return NULL;
	sv_sandbox_no_new_privs();
	sv_sandbox_load_phase(filters);
	return filters;
}

/* A path in the test's temporary directory, unique to this process. */
static void
temp_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/sv_test_sandbox_%d_%s", (int)getpid(), what);
	unlink(buf);
}

Test(sandbox, default_limits_are_the_documented_ones)
{
	struct sv_limits lim;

	sv_sandbox_default_limits(&lim);
	cr_assert_eq(lim.cpu_seconds, 30);
	cr_assert_eq(lim.address_space, 1UL << 30);
	cr_assert_eq(lim.open_files, 16);
}

/* Checks getrlimit() for @res against @soft and @hard. */
static int
limit_is(int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl;

	return getrlimit(res, &rl) == 0 && rl.rlim_cur == soft && rl.rlim_max == hard;
}

static int
child_limits(void *arg)
{
	const struct sv_limits lim = {5, 512UL << 20, 12};

	(void)arg;
	sv_sandbox_limit(&lim);
	if (!limit_is(RLIMIT_CPU, 5, 6))
		return 1;
	if (!limit_is(RLIMIT_AS, 512UL << 20, 512UL << 20))
		return 2;
	if (!limit_is(RLIMIT_NOFILE, 12, 12))
		return 3;
	if (!limit_is(RLIMIT_CORE, 0, 0))
		return 4;
	if (!limit_is(RLIMIT_FSIZE, 0, 0))
		return 5;
	if (!limit_is(RLIMIT_NPROC, 0, 0))
		return 6;
	return 0;
}

Test(sandbox, limit_sets_every_rlimit_with_cpu_hard_one_second_above_soft)
{
	assert_child_ok(run_child(child_limits, NULL));
}

static int
child_fsize(void *arg)
{
	const char *path = arg;
	struct sv_limits lim;
	int fd;

	sv_sandbox_default_limits(&lim);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return 1;
	/* The positive control: the same descriptor writes before the limit. */
	if (write(fd, "a", 1) != 1)
		return 2;
	sv_sandbox_limit(&lim);
	signal(SIGXFSZ, SIG_IGN);
	if (write(fd, "b", 1) != -1 || errno != EFBIG)
		return 3;
	return 0;
}

Test(sandbox, limit_stops_a_file_from_growing)
{
	char path[128];
	struct stat st;

	temp_path(path, sizeof(path), "fsize");
	assert_child_ok(run_child(child_fsize, path));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 1, "the file grew under RLIMIT_FSIZE 0");
	unlink(path);
}

static int
child_fork_limit(void *arg)
{
	struct sv_limits lim;
	int status;
	pid_t pid;

	(void)arg;
	/* The positive control: this process can fork before it is confined. */
	if ((pid = fork()) < 0)
		return 1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	sv_sandbox_default_limits(&lim);
	sv_sandbox_limit(&lim);
	sv_sandbox_drop_user(SV_NOBODY_ID, SV_NOBODY_ID);
	if ((pid = fork()) == 0)
		_exit(0);
	if (pid > 0) {
		waitpid(pid, &status, 0);
		return 3;
	}
	return errno == EAGAIN ? 0 : 4;
}

Test(sandbox, fork_fails_once_limited_and_unprivileged)
{
	assert_child_ok(run_child(child_fork_limit, NULL));
}

static int
child_nnp(void *arg)
{
	char val[16];

	(void)arg;
	sv_sandbox_no_new_privs();
	if (status_field("NoNewPrivs", val, sizeof(val)) < 0)
		return 1;
	return strcmp(val, "1") == 0 ? 0 : 2;
}

Test(sandbox, no_new_privs_shows_in_proc_status)
{
	assert_child_ok(run_child(child_nnp, NULL));
}

static int
child_drop_user(void *arg)
{
	char val[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	uid_t nobody_uid;
	gid_t nobody_gid;

	(void)arg;
	sv_sandbox_lookup_nobody(&nobody_uid, &nobody_gid);
	sv_sandbox_drop_user(nobody_uid, nobody_gid);
	if (uid != 0 && gid != 0) {
		/* An unprivileged caller keeps its ids. */
		if (!status_ids_are("Uid", uid) || !status_ids_are("Gid", gid))
			return 1;
		return 0;
	}
	if (!status_ids_are("Uid", nobody_uid) || !status_ids_are("Gid", nobody_gid))
		return 2;
	if (status_field("Groups", val, sizeof(val)) < 0 || val[0] != '\0')
		return 3;
	return 0;
}

Test(sandbox, drop_user_makes_root_nobody_with_no_groups)
{
	assert_child_ok(run_child(child_drop_user, NULL));
}

/* Asks to drop to uid 0; 0 only if it returned with the ids unchanged. */
static int
child_drop_user_to_root(void *arg)
{
	uid_t uid = getuid();

	(void)arg;
	sv_sandbox_drop_user(0, SV_NOBODY_ID);
	return status_ids_are("Uid", uid) ? 0 : 1;
}

Test(sandbox, drop_user_refuses_uid_0_as_its_target)
{
	int status = run_child(child_drop_user_to_root, NULL);

	/* An unprivileged caller has no ids to drop: it returns, unchanged. */
	if (geteuid() != 0) {
		assert_child_ok(status);
		return;
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == SV_EXIT_FAILURE,
		  "dropping root to uid 0 was not refused (status %#x)", status);
}

/* Returns 0 when every capability set in /proc/self/status is empty, else its number. */
static int
caps_all_empty(int check_bounding)
{
	static const char *const sets[] = {"CapInh", "CapPrm", "CapEff", "CapAmb", "CapBnd"};
	size_t i, n = check_bounding ? 5 : 4;

	for (i = 0; i < n; i++) {
		if (status_caps(sets[i]) != 0)
			return 10 + (int)i;
	}
	return 0;
}

static int
child_drop_caps_only(void *arg)
{
	int root = geteuid() == 0;

	(void)arg;
	/* The positive control: root starts with capabilities to lose. */
	if (root && status_caps("CapEff") == 0)
		return 1;
	sv_sandbox_no_new_privs();
	sv_sandbox_drop_caps();
	return caps_all_empty(root);
}

Test(sandbox, drop_caps_empties_every_set_even_without_uid_change)
{
	assert_child_ok(run_child(child_drop_caps_only, NULL));
}

static int
child_whole_order(void *arg)
{
	struct sv_limits lim;
	int root = geteuid() == 0;
	char val[16];
	int r;

	(void)arg;
	sv_sandbox_default_limits(&lim);
	sv_sandbox_limit(&lim);
	sv_sandbox_no_new_privs();
	sv_sandbox_drop_user(SV_NOBODY_ID, SV_NOBODY_ID);
	sv_sandbox_drop_caps();
	if ((r = caps_all_empty(root)) != 0)
		return r;
	if (status_field("NoNewPrivs", val, sizeof(val)) < 0 || strcmp(val, "1") != 0)
		return 2;
	if (root && (!status_ids_are("Uid", 65534) || !status_ids_are("Gid", 65534)))
		return 3;
	if (!limit_is(RLIMIT_NOFILE, 16, 16) || !limit_is(RLIMIT_CORE, 0, 0))
		return 4;
	return 0;
}

Test(sandbox, documented_order_leaves_no_capability_and_no_root_id)
{
	assert_child_ok(run_child(child_whole_order, NULL));
}

/* The number of entries in /proc/self/fd that are not 0..3, the directory's own aside. */
static int
count_other_fds(void)
{
	char path[64];
	int fd, n = 0;

	for (fd = 4; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
	}
	return n;
}

static int
child_keep_fds(void *arg)
{
	int sv[2], p[2];

	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || pipe(p) < 0)
		return 1;
	if (dup2(sv[0], SV_CHANNEL_FD) < 0)
		return 2;
	/* The positive control: the pipe is open before. */
	if (fcntl(p[0], F_GETFD) < 0 || fcntl(p[1], F_GETFD) < 0 || count_other_fds() == 0)
		return 3;
	sv_sandbox_keep_fds(SV_CHANNEL_FD);
	if (fcntl(SV_CHANNEL_FD, F_GETFD) < 0)
		return 4;
	if (fcntl(p[0], F_GETFD) != -1 || fcntl(p[1], F_GETFD) != -1 || errno != EBADF)
		return 5;
	if (count_other_fds() != 0)
		return 6;
	return 0;
}

Test(sandbox, keep_fds_closes_a_pipe_and_keeps_the_channel)
{
	assert_child_ok(run_child(child_keep_fds, NULL));
}

static int
child_keep_fds_no_channel(void *arg)
{
	(void)arg;
	close(SV_CHANNEL_FD);
	sv_sandbox_keep_fds(SV_CHANNEL_FD);
	return 0;
}

Test(sandbox, keep_fds_dies_when_the_channel_is_not_open)
{
	int status = run_child(child_keep_fds_no_channel, NULL);

	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), SV_EXIT_FAILURE);
}

static int
child_read_only_open(void *arg)
{
	const char *path = arg;
	char buf[8];
	int fd;

	if (enter_load_phase() == NULL)
		return 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 2;
	if (read(fd, buf, sizeof(buf)) != 5 || memcmp(buf, "hello", 5) != 0)
		return 3;
	close(fd);
	return 0;
}

Test(sandbox, load_phase_allows_a_read_only_open)
{
	char path[128];
	int fd;

	temp_path(path, sizeof(path), "ro");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello", 5), 5);
	close(fd);
	assert_child_ok(run_child(child_read_only_open, path));
	unlink(path);
}

struct open_try {
	const char *path;
	int flags;
};

static int
child_open_try(void *arg)
{
	const struct open_try *t = arg;

	if (enter_load_phase() == NULL)
		return 1;
	if (open(t->path, t->flags, 0644) >= 0)
		return 2;
	return errno == ENOSYS ? 0 : 3;
}

Test(sandbox, load_phase_refuses_an_open_for_writing_and_no_file_appears)
{
	struct open_try t = {NULL, O_WRONLY | O_CREAT | O_CLOEXEC};
	char path[128];
	struct stat st;

	temp_path(path, sizeof(path), "created");
	t.path = path;
	assert_child_ok(run_child(child_open_try, &t));
	cr_assert_eq(stat(path, &st), -1, "the file was created");
	cr_assert_eq(errno, ENOENT);
}

Test(sandbox, load_phase_refuses_a_truncating_open_and_the_data_stays)
{
	struct open_try t = {NULL, O_RDONLY | O_TRUNC | O_CLOEXEC};
	char path[128];
	struct stat st;
	int fd;

	temp_path(path, sizeof(path), "trunc");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "data", 4), 4);
	close(fd);
	t.path = path;
	assert_child_ok(run_child(child_open_try, &t));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 4, "the file was truncated");
	unlink(path);
}

static int
child_socket(void *arg)
{
	(void)arg;
	/* The positive control: sockets can be made before the filter. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 1;
	close(fd);
	if (enter_load_phase() == NULL)
		return 2;
	if (socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) >= 0)
		return 3;
	return errno == ENOSYS ? 0 : 4;
}

Test(sandbox, load_phase_refuses_socket_with_enosys)
{
	assert_child_ok(run_child(child_socket, NULL));
}

static int
child_execve(void *arg)
{
	const char *marker = arg;
	char cmd[256];
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	char *envp[] = {NULL};

	snprintf(cmd, sizeof(cmd), "echo > %s", marker);
	if (enter_load_phase() == NULL)
		return 1;
	execve(argv[0], argv, envp);
	return errno == ENOSYS ? 0 : 2;
}

Test(sandbox, load_phase_refuses_execve_and_the_program_never_runs)
{
	char marker[128];
	struct stat st;

	temp_path(marker, sizeof(marker), "exec");
	assert_child_ok(run_child(child_execve, marker));
	cr_assert_eq(stat(marker, &st), -1, "the executed program ran");
}

static int
child_fork(void *arg)
{
	const char *marker = arg;
	pid_t pid;

	if (enter_load_phase() == NULL)
		return 1;
	pid = (pid_t)syscall(SYS_fork);
	if (pid == 0) {
		close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		_exit(0);
	}
	return pid < 0 && errno == ENOSYS ? 0 : 2;
}

Test(sandbox, load_phase_refuses_fork_and_no_child_runs)
{
	char marker[128];
	struct stat st;

	temp_path(marker, sizeof(marker), "fork");
	assert_child_ok(run_child(child_fork, marker));
	cr_assert_eq(stat(marker, &st), -1, "a forked child ran");
}

#ifdef __x86_64__
/* getpid through the i386 entry point (int 0x80, i386 number 20). */
static long
getpid_i386(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	return r;
}

static int
child_foreign_arch(void *arg)
{
	(void)arg;
	/* The positive control: the i386 entry works here before the filter. */
	if (getpid_i386() != getpid())
		return 1;
	if (enter_load_phase() == NULL)
		return 2;
	/* Native getpid is in the test policy, so only the architecture differs. */
	if (syscall(SYS_getpid) != getpid_i386())
		return 3;
	return 4;
}

Test(sandbox, load_phase_kills_a_call_through_the_i386_entry)
{
	assert_child_sigsys(run_child(child_foreign_arch, NULL));
}
#endif

static int
child_dlopen(void *arg)
{
	int (*value)(void);
	void *so;

	(void)arg;
	if (enter_load_phase() == NULL)
		return 1;
	if ((so = dlopen(SV_SANDBOX_PROBE, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return 2;
	if ((value = (int (*)(void))dlsym(so, "sandbox_probe_value")) == NULL)
		return 3;
	return value() == 42 ? 0 : 4;
}

Test(sandbox, load_phase_lets_dlopen_load_a_library_and_run_its_constructor)
{
	assert_child_ok(run_child(child_dlopen, NULL));
}

/* Receives a descriptor sent by sv_send_with_fd(). Returns it or -1. */
static int
recv_fd(int sock)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {0};
	struct cmsghdr *c;
	char b;
	struct iovec iov = {&b, 1};
	int fd;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 || (c = CMSG_FIRSTHDR(&msg)) == NULL ||
	    c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Loads both filters and the probe, hands the listener to @arg's socket, then misbehaves. */
static int
child_final(void *arg)
{
	const int *sock = arg;
	void *filters, *so;
	int fd;

	if ((filters = enter_load_phase()) == NULL)
		return 1;
	if ((so = dlopen(SV_SANDBOX_PROBE, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return 2;
	fd = sv_sandbox_final(filters);
	if (sv_send_with_fd(*sock, "f", 1, fd, 0) != 1)
		return 3;
	/* As svrun-sandbox does: a listener left open here would keep the call blocked. */
	close(fd);
	/* Positive control: calls in the policy still work under both filters. */
	if (write(*sock, "ok", 2) != 2 || syscall(SYS_getpid) <= 0)
		return 4;
	/* Outside the final policy, inside the load set: the broker gets to decide. */
	open("/dev/null", O_RDONLY | O_CLOEXEC);
	return 5;
}

Test(sandbox, final_filter_hands_a_forbidden_call_to_the_listener)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct pollfd pfd;
	char ok[2];
	int sv[2], fd, status;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Should the test fail before it kills the child, the child must not linger. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child_final(&sv[1]));
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	cr_assert_geq(fd, 0, "no notification descriptor arrived");
	cr_assert_eq(read(sv[0], ok, 2), 2);
	cr_assert(memcmp(ok, "ok", 2) == 0);

	pfd.fd = fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no notification within 10 s");
	cr_assert_eq(seccomp_notify_alloc(&req, &resp), 0);
	cr_assert_eq(seccomp_notify_receive(fd, req), 0);
	cr_assert_eq(req->data.nr, SCMP_SYS(openat), "notified syscall %d", req->data.nr);
	cr_assert_eq(req->pid, (uint32_t)pid);
	cr_assert_eq(req->data.arch, seccomp_arch_native());

	/* The broker's answer to a violation: the plugin dies, the call never runs. */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	seccomp_notify_free(req, resp);
	close(fd);
	close(sv[0]);
}

/* Loads both filters, hands the listener over, then makes a call outside both of them. */
static int
child_outside_both(void *arg)
{
	const int *sock = arg;
	void *filters;
	int fd;

	if ((filters = enter_load_phase()) == NULL)
		return 1;
	fd = sv_sandbox_final(filters);
	if (sv_send_with_fd(*sock, "f", 1, fd, 0) != 1)
		return 2;
	close(fd);
	/* The positive control: getpid is in the policy and goes through. */
	if (syscall(SYS_getpid) <= 0)
		return 3;
	socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 4;
}

Test(sandbox, final_filter_names_a_call_the_load_phase_also_denies)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	struct pollfd pfd;
	int sv[2], fd, status;
	pid_t pid;

	/* The load phase's TRACE must yield to the final filter's notification. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(child_outside_both(&sv[1]));
	}
	close(sv[1]);
	fd = recv_fd(sv[0]);
	cr_assert_geq(fd, 0, "no notification descriptor arrived");
	pfd.fd = fd;
	pfd.events = POLLIN;
	cr_assert_eq(poll(&pfd, 1, 10000), 1, "no notification within 10 s");
	cr_assert_eq(seccomp_notify_alloc(&req, &resp), 0);
	cr_assert_eq(seccomp_notify_receive(fd, req), 0);
	cr_assert_eq(req->data.nr, SCMP_SYS(socket), "notified syscall %d", req->data.nr);
	cr_assert_eq(req->data.args[0], AF_INET);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	seccomp_notify_free(req, resp);
	close(fd);
	close(sv[0]);
}
