/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * verify_text.h - a verify run (verify.h) as text: a header with the
 * sources and the timeout, one line per probe (peer, address, port, rule,
 * expected, result, ok or FAIL, and what happened), the skipped addresses
 * and the verdict. For `speebpf verify` and `apply --confirm --verify`.
 */
#ifndef SPEE_VERIFY_TEXT_H
#define SPEE_VERIFY_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "addr.h"
#include "verify.h"

/* Prints a plan that has run; src: the addresses the probes left from. */
void verify_text_print(FILE *out, const struct verify_plan *plan, const struct prefix *src,
		       size_t n_src);

#endif
