/*
 * learner.c - asks for two syscalls the default policy denies (getppid, uname): killed
 * under the default policy, recorded and failed in learn mode, and fine under the
 * policy learn mode writes. Returns 0 only when both calls worked (in its own PID
 * namespace the parent is outside, so getppid() rightly answers 0).
 */
#include <sys/utsname.h>
#include <unistd.h>

#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	struct utsname u;
	int parent = getppid();
	int named = uname(&u);

	sv_log(ctx, "getppid %s, uname %s", parent >= 0 ? "worked" : "failed",
	       named == 0 ? "worked" : "failed");
	return parent >= 0 && named == 0 ? 0 : 3;
}
