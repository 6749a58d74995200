// SPDX-License-Identifier: GPL-2.0-only
/* speebpf detach: remove every program, link and pin of an instance. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "instance.h"

int do_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	struct diags d = { 0 };
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_dir = optarg;
			break;
		case 'h':
			printf("usage: speebpf detach [--pin-dir DIR]\n");
			return 0;
		default:
			fprintf(stderr, "usage: speebpf detach [--pin-dir DIR]\n");
			return -CLI_EUSAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: speebpf detach [--pin-dir DIR]\n");
		return -CLI_EUSAGE;
	}
	err = instance_detach(pin_dir, &d);
	if (err)
		cli_print_diags(&d, false, NULL);
	else
		printf("detached %s: no program, link or pin of it is left\n", pin_dir);
	diags_free(&d);
	return err;
}
