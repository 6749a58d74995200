// SPDX-License-Identifier: GPL-2.0-only
/* speebpf confirm: keep the policy applied with --confirm. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "confirm.h"
#include "instance.h"

int do_confirm(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	struct diags d = { 0 };
	uint32_t generation = 0;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'h':
			printf("usage: speebpf confirm [--pin-dir DIR]\n");
			return 0;
		default:
			fprintf(stderr, "usage: speebpf confirm [--pin-dir DIR]\n");
			return -CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: speebpf confirm [--pin-dir DIR]\n");
		return -CLI_EUSAGE;
	}
	err = confirm_commit(pin_dir, &generation, &d);
	if (err == -ENOENT && !instance_exists(pin_dir))
		fprintf(stderr, "speebpf: no instance is pinned at %s\n", pin_dir);
	else if (err)
		cli_print_diags(&d, false, NULL);
	else
		printf("confirmed: generation %u stays\n", generation);
	diags_free(&d);
	return err;
}
