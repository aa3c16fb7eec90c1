/*
 * cmd_doctor.c - `svrun doctor`: which sandbox layers this kernel and this build offer,
 * found by trying each one in a throwaway child, the way a browser's sandbox status
 * page reports them. It exits non-zero when a layer svrun uses by default is missing,
 * since svrun would then refuse to run plugins (unless told --allow-missing).
 */
#include <errno.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/common.h"
#include "runner/runner.h"

/* Tries @flags with unshare(2) in a child; returns 0 or the errno it failed with. */
static int
try_unshare(int flags)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(unshare(flags) == 0 ? 0 : (errno & 0x7f));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return EIO;
	return WEXITSTATUS(status);
}

/* Tries no_new_privs in a child, so svrun itself keeps its privileges. */
static int
try_no_new_privs(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : (errno & 0x7f));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return EIO;
	return WEXITSTATUS(status);
}

/* Prints one layer's line; returns 1 when a default layer is missing. */
static int
report(const char *layer, int available, const char *why_not)
{
	printf("%-40s %-10s %-16s %s\n", layer, available ? "yes" : "NO", "yes",
	       available ? "" : why_not);
	return !available;
}

int
sv_cmd_doctor(int argc, char **argv)
{
	static const struct {
		const char *name;
		int flag;
	} namespaces[] = {
		{"user namespace (userns)", CLONE_NEWUSER},
		{"PID namespace (pidns)", CLONE_NEWPID},
		{"network namespace (netns)", CLONE_NEWNET},
		{"IPC namespace (ipcns)", CLONE_NEWIPC},
		{"UTS namespace (utsns)", CLONE_NEWUTS},
		{"mount namespace (mountns)", CLONE_NEWNS},
	};
	const struct scmp_version *v = seccomp_version();
	unsigned int api = seccomp_api_get();
	char why[128];
	struct utsname u;
	cap_t caps;
	size_t i;
	long abi;
	int missing = 0, e;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0) {
			printf("Usage: svrun doctor\nPrint which sandbox layers this kernel and "
			       "build offer; exit 1 if one used by default is missing.\n");
			return 0;
		}
		sv_usage_error("doctor", "unexpected argument '%s'", argv[1]);
		return SV_EXIT_FAILURE;
	}
	uname(&u);
	printf("svrun %s on %s %s %s, libseccomp %u.%u.%u (API level %u)\n\n", SV_VERSION,
	       u.sysname, u.release, u.machine, v->major, v->minor, v->micro, api);
	printf("%-40s %-10s %-16s %s\n", "layer", "available", "used by default", "why not");

	missing += report("rlimits (core, fsize, nofile, as, cpu)", 1, "");
	e = try_no_new_privs();
	missing += report("no_new_privs", e == 0, strerror(e));
	caps = cap_get_proc();
	missing += report("capability drop (libcap)", caps != NULL, "cap_get_proc failed");
	cap_free(caps);
	missing += report("seccomp filter (libseccomp)", api >= 1,
			  "the kernel or libseccomp has no seccomp filter support");
	missing += report("seccomp user notification", api >= 5,
			  "needs Linux 5.0 and libseccomp API level 5: violations could not be "
			  "named");
	missing += report("parent-death signal, not dumpable", 1, "");
	for (i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++) {
		int flags = namespaces[i].flag | (namespaces[i].flag == CLONE_NEWUSER ? 0 :
							  (geteuid() == 0 ? 0 : CLONE_NEWUSER));

		e = try_unshare(flags);
		snprintf(why, sizeof(why), "unshare: %s", strerror(e));
		missing += report(namespaces[i].name, e == 0, why);
	}
	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi > 0) {
		snprintf(why, sizeof(why), "Landlock (ABI %ld)", abi);
		missing += report(why, 1, "");
	} else {
		snprintf(why, sizeof(why), "%s (is landlock in the lsm= boot list?)",
			 strerror(errno));
		missing += report("Landlock", 0, why);
	}
	printf("\n%s\n", missing ? "Some default layers are missing: svrun refuses to run "
				   "plugins unless --allow-missing names them."
				 : "Every default layer is available.");
	return missing ? 1 : 0;
}
