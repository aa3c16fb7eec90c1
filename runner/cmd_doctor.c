/* placeholder: being written */
#include "runner/runner.h"

int
sv_cmd_doctor(int argc, char **argv)
{
	(void)argc;
	sv_warn("%s: not available yet", argv[0]);
	return SV_EXIT_FAILURE;
}
