/*
 * tools.c - the baselines svrun is compared with, in one small program:
 *   tools spawn N CMD...   run CMD N times (fork, exec, wait): median and p90 in µs
 *   tools nsspawn N CMD... the same, each child made by clone3 in new user, PID, network,
 *                          IPC, UTS and mount namespaces: what the kernel alone costs
 *   tools inproc DB N [tx] N point queries through v_plugin_users, prepared once, each
 *                          in autocommit or all in one read transaction: ns each
 *   tools pingpong N SIZE [SPIN_NS]
 *                          N round trips of SIZE bytes over a socketpair, each side
 *                          polling up to SPIN_NS before it blocks: ns each
 *   tools pgdirect URI N [prepared]
 *                          the same point query N times with PQexecParams, direct, or
 *                          prepared once and run with PQexecPrepared: ns each
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libpq-fe.h>
#include <linux/sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Runs argv @n times, each in a child made by clone3 with @flags (0: a plain fork), with
 * stdout and stderr on /dev/null; prints median and p90 in µs.
 */
static int
spawn(int n, char **argv, unsigned long long flags)
{
	struct clone_args ca = {.flags = flags, .exit_signal = SIGCHLD};
	long long *t = calloc((size_t)n, sizeof(*t)), start;
	int i, status;
	pid_t pid;

	for (i = 0; i < n; i++) {
		start = now_ns();
		if ((pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca))) < 0) {
			perror("clone3");
			return 1;
		}
		if (pid == 0) {
			freopen("/dev/null", "w", stdout);
			freopen("/dev/null", "w", stderr);
			execvp(argv[0], argv);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		t[i] = now_ns() - start;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "%s failed (status %d)\n", argv[0], status);
			return 1;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%lld %lld\n", t[n / 2] / 1000, t[n * 9 / 10] / 1000);
	free(t);
	return 0;
}

/*
 * The in-process baseline: what the same query costs without any sandbox; with @one_tx
 * all of them in one read transaction, which pays SQLite's locking only once.
 */
static int
inproc(const char *path, int n, int one_tx)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	long long start;
	int i;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT display_name FROM v_plugin_users WHERE id = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return 1;
	if (one_tx && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return 1;
	start = now_ns();
	for (i = 0; i < n; i++) {
		sqlite3_bind_int(st, 1, 1 + (i * 7919) % 10000);
		if (sqlite3_step(st) != SQLITE_ROW)
			return 1;
		sqlite3_reset(st);
	}
	printf("%lld\n", (now_ns() - start) / n);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

/* Reads up to @size bytes, first polling for up to @spin_ns as svrun's two sides do. */
static ssize_t
read_spinning(int fd, char *buf, int size, long long spin_ns)
{
	long long until = now_ns() + spin_ns;
	ssize_t n;

	while (spin_ns > 0 && now_ns() < until)
		if ((n = recv(fd, buf, (size_t)size, MSG_DONTWAIT)) >= 0 || errno != EAGAIN)
			return n;
	return read(fd, buf, (size_t)size);
}

/* The transport floor: a round trip of @size bytes between two processes. */
static int
pingpong(int n, int size, long long spin_ns)
{
	char *buf = calloc(1, (size_t)size);
	long long start;
	int sv[2], i;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (fork() == 0) {
		for (i = 0; i < n; i++)
			if (read_spinning(sv[1], buf, size, spin_ns) <= 0 ||
			    write(sv[1], buf, (size_t)size) < 0)
				_exit(1);
		_exit(0);
	}
	start = now_ns();
	for (i = 0; i < n; i++)
		if (write(sv[0], buf, (size_t)size) < 0 ||
		    read_spinning(sv[0], buf, size, spin_ns) <= 0)
			return 1;
	printf("%lld\n", (now_ns() - start) / n);
	wait(NULL);
	free(buf);
	return 0;
}

#define SQL "SELECT display_name FROM v_plugin_users WHERE id = $1"

/* PostgreSQL's baselines: the query a plugin sends, straight from libpq, no broker. */
static int
pgdirect(const char *uri, int n, int prepared)
{
	PGconn *c = PQconnectdb(uri);
	char id[16];
	const char *p[] = {id};
	long long start;
	PGresult *r;
	int i;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgdirect: %s", PQerrorMessage(c));
		return 1;
	}
	if (prepared) {
		r = PQprepare(c, "q", SQL, 1, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return 1;
		PQclear(r);
	}
	start = now_ns();
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%d", 1 + (i * 7919) % 10000);
		r = prepared ? PQexecPrepared(c, "q", 1, p, NULL, NULL, 0)
			     : PQexecParams(c, SQL, 1, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			return 1;
		PQclear(r);
	}
	printf("%lld\n", (now_ns() - start) / n);
	PQfinish(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "spawn") == 0)
		return spawn(atoi(argv[2]), argv + 3, 0);
	if (argc >= 4 && strcmp(argv[1], "nsspawn") == 0)
		return spawn(atoi(argv[2]), argv + 3,
			     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
				     CLONE_NEWUTS | CLONE_NEWNS);
	if ((argc == 4 || (argc == 5 && strcmp(argv[4], "tx") == 0)) &&
	    strcmp(argv[1], "inproc") == 0)
		return inproc(argv[2], atoi(argv[3]), argc == 5);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "pingpong") == 0)
		return pingpong(atoi(argv[2]), atoi(argv[3]), argc == 5 ? atoll(argv[4]) : 0);
	if ((argc == 4 || (argc == 5 && strcmp(argv[4], "prepared") == 0)) &&
	    strcmp(argv[1], "pgdirect") == 0)
		return pgdirect(argv[2], atoi(argv[3]), argc == 5);
	fprintf(stderr, "usage: tools spawn|nsspawn N CMD... | inproc DB N [tx] | pingpong N SIZE "
			"[SPIN_NS] | pgdirect URI N [prepared]\n");
	return 2;
}
