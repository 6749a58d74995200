// SPDX-License-Identifier: GPL-2.0-only
/* speebpf detach: remove every program, link and pin of an instance. */
#include <stdio.h>

#include "cli.h"
#include "detach.h"

static int do_detach(const struct cli_args *a, struct instance *inst)
{
	struct diags d = { 0 };
	int err = detach_instance(inst, &d);

	(void)a;
	if (err)
		cli_print_diags(&d, false, NULL);
	else
		printf("detached %s: no program, link or pin of it is left\n", inst->pin_dir);
	diags_free(&d);
	return err;
}

CLI_COMMAND(detach, .summary = "remove every program, link and pin of an instance",
	    .access = CLI_WRITES, .run = do_detach);
