/*
 * caps.c - takes away every privilege the sandboxed child may have started with.
 *
 * no_new_privs first, so nothing executed later can gain privileges. When svrun runs as
 * root, the child then switches to the user nobody, and every capability set is emptied
 * through libcap. The bounding set can only be emptied while CAP_SETPCAP is effective,
 * and the kernel clears the permitted and effective sets as soon as no uid is 0
 * (capabilities(7), "Effect of user ID changes on capabilities"), so the bounding set
 * goes before the uid changes. Every step is read back.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/common.h"
#include "sandbox/sandbox.h"

/* Whether capability @cap is in set @flag of the calling thread. */
static int
has_cap(cap_value_t cap, cap_flag_t flag)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t caps;

	if ((caps = cap_get_proc()) == NULL)
		sv_pdie("cap_get_proc");
	if (cap_get_flag(caps, cap, flag, &v) < 0)
		sv_pdie("cap_get_flag");
	cap_free(caps);
	return v == CAP_SET;
}

/* Whether the bounding set still holds any capability the kernel knows. */
static int
bounding_empty(void)
{
	cap_value_t c;

	for (c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (cap_get_bound(c) != 0)
			return 0;
	}
	return 1;
}

/*
 * Empties the bounding set, which limits what execve() can ever grant, while
 * CAP_SETPCAP allows it. Without CAP_SETPCAP this does nothing (see sandbox.h).
 */
static void
drop_bounding(void)
{
	cap_value_t c;

	if (bounding_empty() || !has_cap(CAP_SETPCAP, CAP_PERMITTED))
		return;
	if (!has_cap(CAP_SETPCAP, CAP_EFFECTIVE)) {
		cap_t caps = cap_get_proc();
		cap_value_t setpcap = CAP_SETPCAP;

		if (caps == NULL || cap_set_flag(caps, CAP_EFFECTIVE, 1, &setpcap, CAP_SET) < 0 ||
		    cap_set_proc(caps) < 0)
			sv_pdie("cannot make CAP_SETPCAP effective");
		cap_free(caps);
	}
	for (c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (cap_drop_bound(c) < 0)
			sv_pdie("cap_drop_bound(%s)", cap_to_name(c));
	}
	if (!bounding_empty())
		sv_die("the capability bounding set is not empty after dropping it");
}

void
sv_sandbox_lookup_nobody(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	/*
	 * getpwnam() may read /etc/passwd and load NSS modules into this process. That is
	 * acceptable here: no plugin code has run yet, and the descriptors it opens are
	 * closed before it returns.
	 */
	*uid = SV_NOBODY_ID;
	*gid = SV_NOBODY_ID;
	if ((pw = getpwnam("nobody")) != NULL) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
}

void
sv_sandbox_no_new_privs(void)
{
	/*
	 * From here on execve() can grant nothing (setuid bits and file capabilities are
	 * ignored), and an unprivileged process may install seccomp filters. See
	 * Documentation/userspace-api/no_new_privs.rst.
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		sv_pdie("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		sv_die("no_new_privs did not take");
}

void
sv_sandbox_drop_user(uid_t uid, gid_t gid)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		sv_pdie("getresuid");
	if (ruid != 0 && euid != 0 && suid != 0 && rgid != 0 && egid != 0 && sgid != 0)
		return;
	if (uid == 0 || gid == 0)
		sv_die("refusing to drop root to uid %u gid %u: the sandbox would stay root",
		       (unsigned int)uid, (unsigned int)gid);
	/* Before the uid change takes CAP_SETPCAP away (see the top of this file). */
	drop_bounding();
	/* Groups first, then gid, then uid: each later step removes the right to do the former. */
	if (setgroups(0, NULL) < 0)
		sv_pdie("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		sv_pdie("setresgid(%u)", (unsigned int)gid);
	if (setresuid(uid, uid, uid) < 0)
		sv_pdie("setresuid(%u)", (unsigned int)uid);
	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
		sv_pdie("getresuid");
	if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid)
		sv_die("the switch to uid %u gid %u did not take", (unsigned int)uid,
		       (unsigned int)gid);
	if (getgroups(0, NULL) != 0)
		sv_die("supplementary groups remain after setgroups(0)");
}

/* Dies unless the effective, permitted, inheritable and ambient sets are all empty. */
static void
check_empty(void)
{
	cap_t caps, none;
	cap_value_t c;
	int diff;

	if ((caps = cap_get_proc()) == NULL || (none = cap_init()) == NULL)
		sv_pdie("cap_get_proc");
	diff = cap_compare(caps, none);
	cap_free(caps);
	cap_free(none);
	if (diff != 0)
		sv_die("capabilities remain after dropping them all");
	for (c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		if (CAP_AMBIENT_SUPPORTED() && cap_get_ambient(c) != 0)
			sv_die("ambient capability %s remains", cap_to_name(c));
	}
}

void
sv_sandbox_drop_caps(void)
{
	cap_t none;

	/* First, while CAP_SETPCAP may still be effective: it is needed for this set only. */
	drop_bounding();
	/*
	 * Ambient capabilities survive execve() for unprivileged programs; clearing them needs
	 * no privilege. Kernels before 4.3 have no ambient set at all.
	 */
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		sv_pdie("cap_reset_ambient");
	/* cap_init() is the empty state; installing it lowers all three sets at once. */
	if ((none = cap_init()) == NULL)
		sv_pdie("cap_init");
	if (cap_set_proc(none) < 0)
		sv_pdie("cap_set_proc");
	cap_free(none);
	check_empty();
}
