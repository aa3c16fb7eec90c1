/*
 * harness.h - what every integration test needs to run the real svrun: a private temp
 * directory with its own database, running svrun with a hard bound on waiting, direct
 * SQL on the database file, and the probes escape tests look at (marker files, a TCP
 * listener).
 *
 * Each Criterion test runs in its own process; it_setup() and it_teardown() are the
 * suites' .init and .fini, so one test's files never meet another's.
 */
#ifndef SV_IT_HARNESS_H
#define SV_IT_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* Longest any single svrun run may take before the test kills it and fails. */
#define IT_RUN_LIMIT_S 30

/* An svrun exit status for a run that did not exit but died of a signal: 1000 + signal. */
#define IT_SIGNALED 1000

/* The test's directory (0755) and "drop", a subdirectory anyone, nobody too, may write. */
extern char it_dir[];
extern char it_drop[];
/*
 * The test's database and its svrun URI. The backend is SQLite (a file in it_dir), or
 * PostgreSQL when SVRUN_IT_BACKEND=postgresql: then a database of its own in the cluster
 * scripts/pg.sh started (SVRUN_TEST_PG_DIR), reached as the core role svc_core. The
 * same test bodies run on both; it_pg says which one this is.
 */
extern char it_db[];
extern char it_uri[];
extern int it_pg;

/* Makes the test's database name and URI (it_setup calls it). */
void it_db_setup(void);

/* Drops the test's PostgreSQL database and plugin roles (it_teardown calls it). */
void it_db_teardown(void);

/* A finished svrun run: its exit status and everything it wrote. */
struct it_run {
	int status;	/* exit status, or IT_SIGNALED + signal */
	char *out;	/* stdout, NUL-terminated */
	char *err;	/* stderr, NUL-terminated */
};

/* A running svrun, started by it_start(). */
struct it_proc {
	pid_t pid;
	char out_path[512];
	char err_path[512];
};

/* Creates the test's directories; the suites' .init. */
void it_setup(void);

/* Removes the test's directory tree; the suites' .fini. */
void it_teardown(void);

/* The path of built test plugin @id (PLUGIN_DIR/<id>.so), in a static buffer per call. */
const char *it_plugin(const char *id);

/*
 * Runs "svrun init --demo --db <it_uri>", then "svrun install" of the hello example as
 * the demo does, and asserts that both succeeded.
 */
void it_init_db(void);

/* Runs "svrun install --db <it_uri> <plugin @id>" and asserts that it succeeded. */
void it_install(const char *id);

/*
 * Starts svrun with @argv (without argv[0]), in it_dir, its output into files, and
 * @extra_env ("NAME=value", or NULL) added to the test's environment.
 */
void it_start(struct it_proc *p, const char *const *argv, const char *extra_env);

/*
 * Waits at most @limit_s seconds for @p, killing it and failing the test past that.
 * Asserts that no sanitizer report appeared. Returns the run; free with it_run_free().
 */
struct it_run it_wait(struct it_proc *p, int limit_s);

/* it_start() then it_wait() with IT_RUN_LIMIT_S. */
struct it_run it_svrun(const char *const *argv, const char *extra_env);

/* Runs plugin @id against the test's database with the default options. */
struct it_run it_run_plugin(const char *id);

void it_run_free(struct it_run *r);

/* Reads a whole file into a NUL-terminated malloc'd buffer; NULL if it cannot. */
char *it_read_file(const char *path, size_t *len);

/* Copies the file @from to @to (mode 0644); asserts on failure. */
void it_copy(const char *from, const char *to);

/* Writes @text to @path (mode 0644); asserts on failure. */
void it_write_file(const char *path, const char *text);

/* Whether @path exists (lstat succeeds). */
int it_exists(const char *path);

/*
 * Executes @sql (one or more statements) on the test's database with core rights;
 * asserts on failure.
 */
void it_sql(const char *sql);

/* it_sql_dump() as the PostgreSQL cluster's superuser, for what core cannot read. */
char *it_pg_admin_dump(const char *sql);

/* The schema and its rights as one comparable text: objects, owners, grants, roles. */
char *it_schema_dump(void);

/*
 * Runs the query @sql on the test's database and returns every row as "a|b|c\n" (NULL as
 * "<null>"), malloc'd. Asserts on failure.
 */
char *it_sql_dump(const char *sql);

/* Creates plugin @id's table plugin_<id>_cfg(key, value) if needed and sets @key. */
void it_set_cfg(const char *id, const char *key, const char *value);

/* Opens a TCP listener on 127.0.0.1, any port; returns its fd and the port in *@port. */
int it_listen(int *port);

/* Whether a connection is waiting on listener @fd within @ms milliseconds. */
int it_has_connection(int fd, int ms);

/* Connects to 127.0.0.1:@port from the test itself; returns the socket. */
int it_connect(int port);

/*
 * Whether the user a plugin runs as (nobody when the test runs as root) could create
 * @path if nothing but file permissions stood in the way; removes what it created.
 */
int it_unconfined_can_create(const char *path);

/* Runs the benign plugin and asserts that it succeeds: the broker is still healthy. */
void it_assert_benign_runs(void);

/*
 * Finds a child of process @parent (the sandboxed plugin of an svrun), waiting up to
 * @limit_ms. Returns its pid, or -1.
 */
pid_t it_find_child(pid_t parent, int limit_ms);

/* The pids of the processes whose parent is @parent, at most @max of them, in @out. */
size_t it_children(pid_t parent, pid_t *out, size_t max);

/* The descriptors process @pid holds open, or -1 when they cannot be listed. */
long it_open_fds(pid_t pid);

/*
 * Whether process @pid is svrun's sandbox zygote: its command line and its name are the
 * zygote's (the sandboxes it forks keep the first and take their plugin's id as name).
 */
int it_is_zygote(pid_t pid);

/* Waits up to @limit_ms until the file @path contains @needle; returns whether it did. */
int it_wait_for_text(const char *path, const char *needle, int limit_ms);

/* Whether @s contains a line "[<id>] <text>..." (the tagged plugin log line prefix). */
int it_has_log(const char *s, const char *id, const char *text);

#endif
