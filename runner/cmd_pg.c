/* placeholder: being written */
#include "runner/runner.h"

/* Reports that a plugin-management command does not exist yet. */
static int
not_yet(char **argv)
{
	sv_warn("%s: not available yet", argv[0]);
	return SV_EXIT_FAILURE;
}

int
sv_cmd_install(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv);
}

int
sv_cmd_uninstall(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv);
}

int
sv_cmd_grants(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv);
}

int
sv_cmd_audit(int argc, char **argv)
{
	(void)argc;
	return not_yet(argv);
}
