// SPDX-License-Identifier: GPL-2.0-only
/* speebpf confirm: keep the policy applied with --confirm. */
#include <stdio.h>

#include "cli.h"
#include "confirm.h"

static int do_confirm(const struct cli_args *a, struct instance *inst)
{
	struct diags d = { 0 };
	uint32_t generation = 0;
	int err = confirm_commit(inst, &generation, &d);

	(void)a;
	if (err)
		cli_print_diags(&d, false, NULL);
	else
		printf("confirmed: generation %u stays\n", generation);
	diags_free(&d);
	return err;
}

CLI_COMMAND(confirm, .summary = "keep the policy applied with --confirm", .access = CLI_WRITES,
	    .run = do_confirm);
