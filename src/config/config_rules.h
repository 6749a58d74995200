/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * config_rules.h - the sections of the config about rules (config_rules.c):
 * matrix overrides (ports, disable, narrow), site rules and failsafe rules.
 * Private to src/config/.
 */
#ifndef SPEE_CONFIG_RULES_H
#define SPEE_CONFIG_RULES_H

#include "config_parser.h"

/* The sections of the same names. */
int cfg_parse_ports(struct cfg_parser *p, struct ynode *n);
int cfg_parse_disable(struct cfg_parser *p, struct ynode *n);
int cfg_parse_narrow(struct cfg_parser *p, struct ynode *n);
int cfg_parse_site_rules(struct cfg_parser *p, struct ynode *n);
int cfg_parse_failsafe(struct cfg_parser *p, struct ynode *n);

/* failsafe-ssh, for a file without `failsafe:`. */
int cfg_default_failsafe(struct config *cfg);

/* Reports duplicate ids among site and failsafe rules; after both are parsed. */
int cfg_check_rule_ids(struct cfg_parser *p);

#endif
