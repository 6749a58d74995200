// SPDX-License-Identifier: GPL-2.0-only
/* config_model.c - looking things up in a struct config, and freeing it (config_model.h). */
#include "config_model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matrix.h"

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		free(cfg->hosts[i].name);
		free(cfg->hosts[i].addrs);
	}
	free(cfg->hosts);
	for (size_t i = 0; i < cfg->n_networks; i++) {
		free(cfg->networks[i].name);
		cfg_peers_free(&cfg->networks[i].members);
	}
	free(cfg->networks);
	if (cfg->matrix)
		for (size_t i = 0; i < matrix_rule_count; i++)
			cfg_peers_free(&cfg->matrix[i].narrow);
	free(cfg->matrix);
	cfg_rules_free(cfg->rules, cfg->n_rules);
	cfg_rules_free(cfg->failsafe, cfg->n_failsafe);
	free(cfg->resolvers);
	free(cfg->ethertypes);
	free(cfg);
}

const struct cfg_host *config_find_host(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_hosts; i++)
		if (cfg->hosts[i].name && !strcmp(cfg->hosts[i].name, name))
			return &cfg->hosts[i];
	return NULL;
}

const struct cfg_network *config_find_network(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (cfg->networks[i].name && !strcmp(cfg->networks[i].name, name))
			return &cfg->networks[i];
	return NULL;
}

/* The config before the file says anything: the contract's defaults. */
void cfg_peers_free(struct peer_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A one-term list: every host of the inventory, whatever its roles. */
int cfg_every_host(struct peer_list *l)
{
	l->v = calloc(1, sizeof(*l->v));
	if (!l->v)
		return -ENOMEM;
	l->v[0].kind = PEER_ROLE;
	l->v[0].roles = ROLE_ALL;
	l->n = 1;
	return 0;
}

bool cfg_network_index(const struct config *cfg, const char *name, size_t *idx)
{
	for (size_t i = 0; i < cfg->n_networks; i++) {
		if (cfg->networks[i].name && !strcmp(cfg->networks[i].name, name)) {
			*idx = i;
			return true;
		}
	}
	return false;
}

void cfg_rules_free(struct cfg_rule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		cfg_peers_free(&v[i].from);
		cfg_peers_free(&v[i].to);
		free(v[i].description);
	}
	free(v);
}
