/*
 * inspect.c - logs "ready", then sleeps a few seconds so a test can inspect the
 * sandboxed process from outside (seccomp, no_new_privs, capabilities, descriptors,
 * memory). The marker below is what the test's memory scan must find in it.
 */
#include <errno.h>
#include <time.h>

#include <sovereign/plugin.h>

static const char marker[] = "SVRUN-INSPECT-MARKER-7f3a91c2";

/* Shows the marker, then waits long enough to be looked at. */
int
sv_plugin_main(sv_ctx *ctx)
{
	struct timespec t = {5, 0};

	sv_log(ctx, "ready %s", marker);
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
	sv_log(ctx, "done");
	return 0;
}
