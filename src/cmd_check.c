// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include "cli.h"

int do_check(int argc, char **argv)
{
	(void)argc; (void)argv;
	fprintf(stderr, "check: not yet\n");
	return -ENOSYS;
}
