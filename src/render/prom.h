/* SPDX-License-Identifier: GPL-2.0-only */
/* prom.h - what the Prometheus text format asks of every metric writer. */
#ifndef SPEE_PROM_H
#define SPEE_PROM_H

#include <stdio.h>

/* Writes v as a label value: backslash, double quote and newline escaped. */
void prom_label_value(FILE *out, const char *v);

#endif
