// SPDX-License-Identifier: GPL-2.0-only
/*
 * speebpf-docgen: writes the man page or the bash completion of speebpf from
 * its command line's tables (src/cli/docgen.h), at build time.
 * Usage: speebpf-docgen man VERSION DATE | speebpf-docgen bash-completion
 */
#include <stdio.h>
#include <string.h>

#include "docgen.h"

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "man"))
		docgen_man(stdout, argv[2], argv[3]);
	else if (argc == 2 && !strcmp(argv[1], "bash-completion"))
		docgen_bash_completion(stdout);
	else {
		fprintf(stderr, "usage: %s man VERSION DATE | bash-completion\n", argv[0]);
		return 2;
	}
	return fflush(stdout) ? 1 : 0;
}
