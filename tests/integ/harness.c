/*
 * harness.c - runs the real svrun for the integration tests and looks at what it did.
 *
 * svrun is started with fork and execve in its own process group, its output going to
 * files in the test's directory; waiting is bounded so a hang fails the test instead of
 * hanging CI. The database is checked through a separate connection (harness_db.c), never
 * through svrun, so a test does not trust the code it tests to report its own effects.
 */
#include "tests/integ/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534

extern char **environ;

char it_dir[256];
char it_drop[300];

void
it_setup(void)
{
	snprintf(it_dir, sizeof(it_dir), "/tmp/svrun-it-XXXXXX");
	cr_assert_not_null(mkdtemp(it_dir), "mkdtemp: %s", strerror(errno));
	/* The plugin runs as nobody: it must be able to reach "drop" for escapes to count. */
	cr_assert_eq(chmod(it_dir, 0755), 0);
	snprintf(it_drop, sizeof(it_drop), "%s/drop", it_dir);
	cr_assert_eq(mkdir(it_drop, 0777), 0);
	cr_assert_eq(chmod(it_drop, 0777), 0);
	it_db_setup();
}

/* Removes one entry of the test's tree; nftw's callback. */
static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
it_teardown(void)
{
	it_db_teardown();
	if (it_dir[0] != '\0')
		nftw(it_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
it_plugin(const char *id)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s.so", PLUGIN_DIR, id);
	return p;
}

char *
it_read_file(const char *path, size_t *len)
{
	char *buf = NULL, *tmp;
	size_t cap = 0, n = 0;
	ssize_t k;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((tmp = realloc(buf, cap)) == NULL) {
				free(buf);
				buf = NULL;
				goto out;
			}
			buf = tmp;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
out:
	close(fd);
	return buf;
}

void
it_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, len), (ssize_t)len, "write %s", path);
	cr_assert_eq(fchmod(fd, 0644), 0);
	close(fd);
}

void
it_copy(const char *from, const char *to)
{
	size_t len;
	char *data = it_read_file(from, &len);
	int fd;

	cr_assert_not_null(data, "cannot read %s", from);
	fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "open %s: %s", to, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len, "write %s", to);
	close(fd);
	free(data);
}

int
it_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

void
it_start(struct it_proc *p, const char *const *argv, const char *extra_env)
{
	char *args[64], **envp;
	size_t n = 0, i;
	int out, err;

	snprintf(p->out_path, sizeof(p->out_path), "%s/svrun.out", it_dir);
	snprintf(p->err_path, sizeof(p->err_path), "%s/svrun.err", it_dir);
	out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(out >= 0 && err >= 0, "cannot create output files in %s", it_dir);
	args[0] = (char *)SVRUN_BIN;
	for (i = 0; argv[i] != NULL; i++) {
		cr_assert_lt(i + 2, sizeof(args) / sizeof(args[0]));
		args[i + 1] = (char *)argv[i];
	}
	args[i + 1] = NULL;
	while (environ[n] != NULL)
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	cr_assert_not_null(envp);
	memcpy(envp, environ, n * sizeof(*envp));
	envp[n] = (char *)extra_env;
	p->pid = fork();
	cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
	if (p->pid == 0) {
		/* Own group: a timed-out run is killed whole, whatever it started. */
		setpgid(0, 0);
		if (chdir(it_dir) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(125);
		execve(SVRUN_BIN, args, envp);
		dprintf(STDERR_FILENO, "harness: cannot execute %s: %s\n", SVRUN_BIN,
			strerror(errno));
		_exit(125);
	}
	setpgid(p->pid, p->pid);
	free(envp);
	close(out);
	close(err);
}

/* Fails the test if svrun's output carries a sanitizer report: a broker bug, hidden or not. */
static void
assert_no_sanitizer_report(const struct it_run *r)
{
	static const char *const reports[] = {"AddressSanitizer", "LeakSanitizer",
					      "runtime error:", "UndefinedBehaviorSanitizer"};

	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
		cr_assert_null(strstr(r->err, reports[i]), "sanitizer report from svrun:\n%s",
			       r->err);
}

struct it_run
it_wait(struct it_proc *p, int limit_s)
{
	struct timespec pause = {0, 10 * 1000 * 1000};
	struct it_run r = {0};
	long waited_ms = 0;
	int st = 0, timed_out = 0;
	pid_t w;

	for (;;) {
		w = waitpid(p->pid, &st, WNOHANG);
		if (w == p->pid)
			break;
		cr_assert(w == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
		if (waited_ms >= (long)limit_s * 1000 && !timed_out) {
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			timed_out = 1;
		}
		nanosleep(&pause, NULL);
		waited_ms += 10;
	}
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : IT_SIGNALED + WTERMSIG(st);
	r.out = it_read_file(p->out_path, NULL);
	r.err = it_read_file(p->err_path, NULL);
	cr_assert(r.out != NULL && r.err != NULL, "cannot read svrun's output");
	/* Criterion's log channel chokes on megabytes: the first 4 KiB of each tell enough. */
	cr_log_info("svrun exited %d\n--- stdout\n%.4096s--- stderr\n%.4096s", r.status, r.out,
		    r.err);
	cr_assert(!timed_out, "svrun still running after %d s; killed", limit_s);
	cr_assert(r.status != 125, "the harness could not start svrun:\n%s", r.err);
	assert_no_sanitizer_report(&r);
	return r;
}

struct it_run
it_svrun(const char *const *argv, const char *extra_env)
{
	struct it_proc p;

	it_start(&p, argv, extra_env);
	return it_wait(&p, IT_RUN_LIMIT_S);
}

struct it_run
it_run_plugin(const char *id)
{
	const char *argv[] = {"--db", it_uri, "--timeout", "20", it_plugin(id), NULL};

	return it_svrun(argv, NULL);
}

void
it_run_free(struct it_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int
it_listen(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 8), 0, "listen: %s", strerror(errno));
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

int
it_has_connection(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) > 0 && (p.revents & POLLIN);
}

int
it_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

int
it_unconfined_can_create(const char *path)
{
	pid_t pid;
	int st = 0, fd;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* The same user the sandbox switches to, without the sandbox. */
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
				       setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
				       setresuid(NOBODY, NOBODY, NOBODY) < 0))
			_exit(2);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		_exit(fd >= 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 0;
	cr_assert_eq(unlink(path), 0);
	return 1;
}

int
it_has_log(const char *s, const char *id, const char *text)
{
	char needle[1024];

	snprintf(needle, sizeof(needle), "[%s] %s", id, text);
	return strstr(s, needle) != NULL;
}

void
it_assert_benign_runs(void)
{
	struct it_run r = it_run_plugin("benign");

	cr_assert_eq(r.status, 0, "the benign plugin failed after the hostile one (%d):\n%s",
		     r.status, r.err);
	cr_assert(it_has_log(r.err, "benign", "ok: 3 users visible"),
		  "the benign plugin did not report its read:\n%s", r.err);
	it_run_free(&r);
}

/* Returns the parent pid in /proc/@pid/stat, or -1. */
static pid_t
parent_of(const char *pid)
{
	char path[300], *s, *rp;
	long ppid = -1;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((s = it_read_file(path, NULL)) == NULL)
		return -1;
	/* The command name may hold spaces and parentheses: parse after the last ')'. */
	if ((rp = strrchr(s, ')')) != NULL)
		sscanf(rp + 1, " %*c %ld", &ppid);
	free(s);
	return (pid_t)ppid;
}

pid_t
it_find_child(pid_t parent, int limit_ms)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	struct dirent *e;
	pid_t found = -1;
	DIR *d;

	for (int waited = 0; found < 0 && waited <= limit_ms; waited += 20) {
		cr_assert_not_null(d = opendir("/proc"));
		while (found < 0 && (e = readdir(d)) != NULL) {
			if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
			    parent_of(e->d_name) == parent)
				found = (pid_t)atol(e->d_name);
		}
		closedir(d);
		if (found < 0)
			nanosleep(&pause, NULL);
	}
	return found;
}

size_t
it_children(pid_t parent, pid_t *out, size_t max)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	cr_assert_not_null(d = opendir("/proc"));
	while (n < max && (e = readdir(d)) != NULL)
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && parent_of(e->d_name) == parent)
			out[n++] = (pid_t)atol(e->d_name);
	closedir(d);
	return n;
}

long
it_open_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int
it_is_zygote(pid_t pid)
{
	static const char zygote[] = "svrun-sandbox\0--zygote";
	char path[64], *cmd, *comm;
	size_t len = 0;
	int yes;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	cr_assert_not_null(cmd = it_read_file(path, &len), "cannot read %s", path);
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	cr_assert_not_null(comm = it_read_file(path, NULL), "cannot read %s", path);
	/* Its forks keep the command line and take their plugin's name. */
	yes = len == sizeof(zygote) && memcmp(cmd, zygote, len) == 0 &&
	      strcmp(comm, "svrun-sandbox\n") == 0;
	free(cmd);
	free(comm);
	return yes;
}

int
it_wait_for_text(const char *path, const char *needle, int limit_ms)
{
	struct timespec pause = {0, 20 * 1000 * 1000};
	char *s;
	int found = 0;

	for (int waited = 0; !found && waited <= limit_ms; waited += 20) {
		if ((s = it_read_file(path, NULL)) != NULL) {
			found = strstr(s, needle) != NULL;
			free(s);
		}
		if (!found)
			nanosleep(&pause, NULL);
	}
	return found;
}
