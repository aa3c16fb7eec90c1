/* idle.c - a plugin that waits, so the memory of many idle sandboxes can be measured. */
#include <time.h>

#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	struct timespec t = {30, 0};

	sv_log(ctx, "idle");
	nanosleep(&t, NULL);
	return 0;
}
