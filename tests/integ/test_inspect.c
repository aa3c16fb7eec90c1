/*
 * test_inspect.c - looks at a running sandboxed plugin from outside, through /proc, as
 * an auditor would: its seccomp mode, no_new_privs, capabilities and user, the one
 * socket it holds, and whether a secret the broker holds appears anywhere in its
 * environment, command line or memory.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integ/harness.h"

#define MARKER "SVRUN-INSPECT-MARKER-7f3a91c2"
#define CHUNK (1u << 20)

TestSuite(inspect, .init = it_setup, .fini = it_teardown, .timeout = 90);

/* The value of "@field:" in /proc/@pid/status, tabs and all, or "" if absent. */
static void
status_field(pid_t pid, const char *field, char *out, size_t len)
{
	char path[64], key[64], *s, *line, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(key, sizeof(key), "%s:", field);
	out[0] = '\0';
	cr_assert_not_null(s = it_read_file(path, NULL), "cannot read %s", path);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			line += strlen(key);
			line += strspn(line, " \t");
			snprintf(out, len, "%s", line);
		}
	}
	free(s);
}

/* Counts the descriptors of @pid whose target starts with "socket:". */
static int
count_sockets(pid_t pid)
{
	char dir[64], path[320], target[256];
	struct dirent *e;
	int n = 0, seen = 0;
	ssize_t k;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	cr_assert_not_null(d = opendir(dir), "cannot list %s", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((k = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[k] = '\0';
		cr_log_info("fd %s -> %s", e->d_name, target);
		seen++;
		if (strncmp(target, "socket:", 7) == 0)
			n++;
	}
	closedir(d);
	cr_assert_gt(seen, 0, "control: no descriptor of %d could be read", (int)pid);
	return n;
}

/* Whether @needle occurs anywhere in the readable memory of @pid. */
static int
memory_holds(pid_t pid, const char *needle)
{
	char path[64], *maps, *line, *save = NULL, perms[8];
	unsigned long lo, hi, at, want;
	size_t nlen = strlen(needle), scanned = 0;
	char *buf = malloc(CHUNK + nlen);
	int fd, found = 0;
	ssize_t k;

	cr_assert_not_null(buf);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	cr_assert_not_null(maps = it_read_file(path, NULL), "cannot read %s", path);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "cannot open %s", path);
	for (line = strtok_r(maps, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    strstr(line, "[vvar]") != NULL || strstr(line, "[vsyscall]") != NULL)
			continue;
		/* Chunks overlap by the needle's length so no occurrence falls between two. */
		for (at = lo; at < hi && !found; at += CHUNK) {
			want = hi - at < CHUNK + nlen ? hi - at : CHUNK + nlen;
			k = pread(fd, buf, want, (off_t)at);
			if (k <= 0)
				break;
			scanned += (size_t)k;
			found = memmem(buf, (size_t)k, needle, nlen) != NULL;
		}
	}
	close(fd);
	free(maps);
	free(buf);
	cr_assert_gt(scanned, 0, "control: no memory of %d could be read", (int)pid);
	return found;
}

/* Whether the NUL-separated file /proc/@pid/@name contains @needle. */
static int
proc_file_holds(pid_t pid, const char *name, const char *needle)
{
	char path[64], *s;
	size_t len;
	int found;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	cr_assert_not_null(s = it_read_file(path, &len), "cannot read %s", path);
	found = memmem(s, len, needle, strlen(needle)) != NULL;
	free(s);
	return found;
}

/*
 * Makes a random canary, puts it in core's config table as the database password and
 * in @env as SOVEREIGN_DB_PASSWORD=..., for svrun's environment: a secret the broker
 * holds, which no sandbox may.
 */
static void
plant_canary(char canary[64], char env[128])
{
	unsigned char rnd[12];
	char sql[256];
	int fd, i;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(read(fd, rnd, sizeof(rnd)), (ssize_t)sizeof(rnd));
	close(fd);
	strcpy(canary, "canary-");
	for (i = 0; i < (int)sizeof(rnd); i++)
		sprintf(canary + strlen(canary), "%02x", rnd[i]);
	snprintf(env, 128, "SOVEREIGN_DB_PASSWORD=%s", canary);
	it_init_db();
	snprintf(sql, sizeof(sql), "INSERT INTO config(key, value) VALUES ('db.password', '%s')",
		 canary);
	it_sql(sql);
}

/* Asserts that sandbox @child is confined: seccomp, no_new_privs, no capability, nobody. */
static void
assert_confined(pid_t child)
{
	char v[128];

	status_field(child, "Seccomp", v, sizeof(v));
	cr_assert_str_eq(v, "2", "Seccomp: %s", v);
	status_field(child, "NoNewPrivs", v, sizeof(v));
	cr_assert_str_eq(v, "1", "NoNewPrivs: %s", v);
	status_field(child, "CapEff", v, sizeof(v));
	cr_assert_str_eq(v, "0000000000000000", "CapEff: %s", v);
	status_field(child, "CapInh", v, sizeof(v));
	cr_assert_str_eq(v, "0000000000000000", "CapInh: %s", v);
	status_field(child, "CapAmb", v, sizeof(v));
	cr_assert_str_eq(v, "0000000000000000", "CapAmb: %s", v);
	if (geteuid() == 0) {
		status_field(child, "CapPrm", v, sizeof(v));
		cr_assert_str_eq(v, "0000000000000000", "CapPrm: %s", v);
		status_field(child, "CapBnd", v, sizeof(v));
		cr_assert_str_eq(v, "0000000000000000", "CapBnd: %s", v);
		status_field(child, "Uid", v, sizeof(v));
		cr_assert_str_eq(v, "65534\t65534\t65534\t65534", "Uid: %s", v);
		status_field(child, "Gid", v, sizeof(v));
		cr_assert_str_eq(v, "65534\t65534\t65534\t65534", "Gid: %s", v);
	}
	cr_assert_eq(count_sockets(child), 1, "the plugin should hold exactly one socket");
}

Test(inspect, running_plugin_is_confined_and_holds_no_broker_secret)
{
	char canary[64], env[128];
	const char *argv[] = {"--db", it_uri, "--timeout", "30", it_plugin("inspect"), NULL};
	struct it_proc p;
	struct it_run r;
	pid_t child;

	plant_canary(canary, env);
	it_start(&p, argv, env);
	cr_assert(it_wait_for_text(p.err_path, "[inspect] ready", 15000),
		  "the plugin never said it was ready");
	child = it_find_child(p.pid, 2000);
	cr_assert_gt(child, 0, "no child of svrun found");
	assert_confined(child);

	/* Controls: the canary reached the broker, and each place scanned is readable. */
	cr_assert(proc_file_holds(p.pid, "environ", canary), "control: svrun lacks the canary");
	cr_assert(proc_file_holds(child, "environ", "SVRUN_PLUGIN=inspect"),
		  "control: the plugin's environment could not be read");
	cr_assert(proc_file_holds(child, "cmdline", "inspect.so"),
		  "control: the plugin's command line could not be read");
	cr_assert(memory_holds(child, MARKER), "control: the scan missed the plugin's marker");

	cr_assert(!proc_file_holds(child, "environ", canary), "canary in the plugin's environ");
	cr_assert(!proc_file_holds(child, "cmdline", canary), "canary in the plugin's cmdline");
	cr_assert(!memory_holds(child, canary), "canary in the plugin's memory");

	r = it_wait(&p, 30);
	cr_assert_eq(r.status, 0, "the inspected plugin exited %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "inspect", "done"), "%s", r.err);
	it_run_free(&r);
}

/* The inode of namespace @ns of process @pid, as "ns:[N]". */
static void
ns_of(pid_t pid, const char *ns, char out[64])
{
	char path[64];
	ssize_t k;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	cr_assert_gt(k = readlink(path, out, 63), 0, "cannot read %s", path);
	out[k] = '\0';
}

/*
 * In a run of several plugins, the sandboxes after the first are forks of one zygote.
 * The zygote must hold no more of the broker than a sandbox does: no secret, no
 * descriptor but its socket. Each sandbox it forks must be confined like one svrun forks
 * itself, each in namespaces of its own: sharing the zygote's pages must not mean
 * sharing its namespaces, or one another's.
 */
Test(inspect, sandboxes_forked_by_the_zygote_are_confined_apart_and_it_holds_no_secret)
{
	static const char *const nss[] = {"user", "pid", "net", "mnt", "ipc", "uts"};
	char canary[64], env[128], two[512], three[512], a[64], b[64], comm[64];
	const char *argv[] = {"--db", it_uri, "--timeout", "30", it_plugin("inspect"), two,
			      three, NULL};
	pid_t kids[8], zygote = -1, forked[8];
	size_t n, nforked = 0, i, j, k;
	struct it_proc p;
	struct it_run r;
	char *s;

	plant_canary(canary, env);
	snprintf(two, sizeof(two), "%s/inspecttwo.so", it_dir);
	snprintf(three, sizeof(three), "%s/inspectthree.so", it_dir);
	it_copy(it_plugin("inspect"), two);
	it_copy(it_plugin("inspect"), three);
	it_start(&p, argv, env);
	cr_assert(it_wait_for_text(p.err_path, "[inspecttwo] ready", 15000), "two never ready");
	cr_assert(it_wait_for_text(p.err_path, "[inspectthree] ready", 15000),
		  "three never ready");
	cr_assert(it_wait_for_text(p.err_path, "[inspect] ready", 15000), "one never ready");
	n = it_children(p.pid, kids, 8);
	cr_assert_eq(n, 4, "svrun should have three sandboxes and a zygote, has %zu children", n);
	for (i = 0; i < n; i++) {
		if (it_is_zygote(kids[i])) {
			cr_assert_eq(zygote, -1, "two zygotes");
			zygote = kids[i];
			continue;
		}
		snprintf(a, sizeof(a), "/proc/%d/comm", (int)kids[i]);
		cr_assert_not_null(s = it_read_file(a, NULL));
		snprintf(comm, sizeof(comm), "%s", s);
		free(s);
		/* A fork of the zygote keeps its command line; its name is the plugin's id. */
		if (strcmp(comm, "inspecttwo\n") == 0 || strcmp(comm, "inspectthree\n") == 0) {
			cr_assert(proc_file_holds(kids[i], "cmdline", "--zygote"),
				  "sandbox %d is named %s but is no fork of the zygote",
				  (int)kids[i], comm);
			forked[nforked++] = kids[i];
		}
	}
	cr_assert_neq(zygote, -1, "no zygote among svrun's children");
	cr_assert_eq(nforked, 2, "the second and third sandbox should be the zygote's forks");

	/* The zygote: a fresh image with a fixed environment, its socket, and nothing else. */
	cr_assert(proc_file_holds(p.pid, "environ", canary), "control: svrun lacks the canary");
	cr_assert(proc_file_holds(zygote, "environ", "LC_ALL=C"),
		  "control: the zygote's environment could not be read");
	cr_assert(!proc_file_holds(zygote, "environ", canary), "canary in the zygote's environ");
	cr_assert(!memory_holds(zygote, canary), "canary in the zygote's memory");
	cr_assert_eq(it_open_fds(zygote), 4, "the zygote should hold stdio and its socket only");
	cr_assert_eq(count_sockets(zygote), 1, "the zygote should hold exactly one socket");
	for (k = 0; k < sizeof(nss) / sizeof(nss[0]); k++) {
		/* Control: the zygote itself is in svrun's namespaces, so they can be told. */
		ns_of(p.pid, nss[k], a);
		ns_of(zygote, nss[k], b);
		cr_assert_str_eq(a, b, "control: the zygote's %s namespace is not svrun's", nss[k]);
	}

	/* Its forks: confined, no secret, each in namespaces of its own. */
	for (i = 0; i < nforked; i++) {
		assert_confined(forked[i]);
		cr_assert(proc_file_holds(forked[i], "environ", "LC_ALL=C"),
			  "control: a forked sandbox's environment could not be read");
		cr_assert(!proc_file_holds(forked[i], "environ", canary),
			  "canary in a forked sandbox's environ");
		cr_assert(memory_holds(forked[i], MARKER), "control: the scan missed the marker");
		cr_assert(!memory_holds(forked[i], canary), "canary in a forked sandbox's memory");
		for (k = 0; k < sizeof(nss) / sizeof(nss[0]); k++) {
			ns_of(zygote, nss[k], a);
			ns_of(forked[i], nss[k], b);
			cr_assert_str_neq(a, b, "a forked sandbox shares the zygote's %s namespace",
					  nss[k]);
			for (j = 0; j < i; j++) {
				ns_of(forked[j], nss[k], a);
				cr_assert_str_neq(a, b, "two forked sandboxes share a %s namespace",
						  nss[k]);
			}
		}
	}

	r = it_wait(&p, 30);
	cr_assert_eq(r.status, 0, "the run exited %d:\n%s", r.status, r.err);
	cr_assert(it_has_log(r.err, "inspecttwo", "done"), "%s", r.err);
	cr_assert(it_has_log(r.err, "inspectthree", "done"), "%s", r.err);
	cr_assert_eq(kill(zygote, 0), -1, "the zygote outlived the run");
	it_run_free(&r);
}
