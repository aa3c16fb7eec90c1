/*
 * nomain.c - a shared object that is not a plugin: it lacks sv_plugin_main, so svrun
 * must refuse to run it with the load-failure status (127).
 */

int sv_plugin_helper(void);

/* Exists only so the object is not empty; svrun never calls it. */
int
sv_plugin_helper(void)
{
	return 0;
}
