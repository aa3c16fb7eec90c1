/*
 * spin.c - logs once, then loops forever without a syscall; only the deadline ends it
 * (exit 129), and no process of it may remain afterwards.
 */
#include <sovereign/plugin.h>

/* Says it started, then burns CPU until the broker kills it. */
int
sv_plugin_main(sv_ctx *ctx)
{
	volatile unsigned long n = 0;

	sv_log(ctx, "spinning");
	for (;;)
		n++;
	return 0;
}
