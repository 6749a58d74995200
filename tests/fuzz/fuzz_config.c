// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the config parser. Any bytes -> config_parse; a valid
 * config must free cleanly, an invalid one must say why (file:line:column).
 * Built and run by `make fuzz` / `make fuzz-short` (Makefile, tests/fuzz/run.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	struct diags d = {};
	int err = config_parse("fuzz.yaml", (const char *)data, size, &cfg, &d);

	/* the contract: an error always says what is wrong */
	if (err && !cfg && d.n == 0)
		abort();
	if (!err && !cfg)
		abort();
	config_free(cfg);
	diags_free(&d);
	return 0;
}
