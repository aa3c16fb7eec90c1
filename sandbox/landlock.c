/*
 * landlock.c - file access rules that do not depend on the seccomp policy: read and
 * execute only while the plugin loads, nothing at all afterwards.
 *
 * Landlock (Documentation/userspace-api/landlock.rst) stacks rulesets like seccomp
 * stacks filters, and an unprivileged process with no_new_privs may restrict itself.
 * The rights handled are those of the running kernel's ABI version, so a newer kernel
 * never sees a request it does not understand and an older one is asked only for what
 * it can enforce. glibc 2.36 has no wrappers, hence syscall(2).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

/* ABI 3 (Linux 6.2) and ABI 5 (Linux 6.10) added these; the Debian 12 headers predate them. */
#define ACCESS_FS_TRUNCATE (1ULL << 14)
#define ACCESS_FS_IOCTL_DEV (1ULL << 15)

int
sv_sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? -errno : (int)abi;
}

/* Every filesystem right the kernel's Landlock ABI @abi knows. */
static uint64_t
fs_rights(int abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;

	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		all |= ACCESS_FS_IOCTL_DEV;
	return all;
}

void
sv_sandbox_landlock(int allow_reading)
{
	struct landlock_ruleset_attr attr = {0};
	struct landlock_path_beneath_attr beneath = {0};
	int abi, ruleset = -1, root = -1;

	if ((abi = sv_sandbox_landlock_abi()) < 0)
		sv_die("Landlock is not available: %s", strerror(-abi));
	attr.handled_access_fs = fs_rights(abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		sv_pdie("landlock_create_ruleset");
	/* While loading: read and execute what the (already minimal) root holds. */
	if (allow_reading) {
		if ((root = open("/", O_PATH | O_CLOEXEC)) < 0)
			sv_pdie("open / for Landlock");
		beneath.parent_fd = root;
		beneath.allowed_access = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE |
					 LANDLOCK_ACCESS_FS_READ_DIR;
		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) <
		    0)
			sv_pdie("landlock_add_rule");
		close(root);
	}
	/* A ruleset with no rules leaves no file access at all. */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		sv_pdie("landlock_restrict_self");
	close(ruleset);
}
