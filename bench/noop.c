/* noop.c - the cheapest plugin: what spawning a sandbox costs, and nothing else. */
#include <sovereign/plugin.h>

int
sv_plugin_main(sv_ctx *ctx)
{
	(void)ctx;
	return 0;
}
