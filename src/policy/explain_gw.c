// SPDX-License-Identifier: GPL-2.0-only
/* The gateway's reference model (explain_gw.h), built on explain_decide(). */
#include "explain_gw.h"

#include <string.h>

#include "gateway.h"

const struct cfg_host *explain_gw_host_of(const struct config *cfg, const struct prefix *addr)
{
	for (size_t h = 0; h < cfg->n_hosts; h++)
		for (size_t i = 0; i < cfg->hosts[h].n_addrs; i++) {
			const struct prefix *a = &cfg->hosts[h].addrs[i];

			if (a->family == addr->family && prefix_is_host(a) &&
			    !memcmp(a->addr, addr->addr, prefix_max_len(a->family) / 8))
				return &cfg->hosts[h];
		}
	return NULL;
}

int explain_gw_compile(const struct config *cfg, const struct cfg_host *host,
		       const struct policy_env *env, struct policy **out, struct diags *d)
{
	return gateway_compile_host(cfg, host->name, env, out, d);
}

/* A drop, whatever the mode: no-rule refuses unless the direction's default passes. */
static bool refuses(const struct policy *p, uint8_t dir, uint8_t reason)
{
	return spee_reason_is_drop(reason) &&
	       !(reason == SPEE_REASON_NO_RULE && p->default_action[dir] == SPEE_ACTION_PASS);
}

static void ask(struct explain_gw_result *r, const struct policy *p, uint8_t dir,
		const struct name_table *t, uint8_t proto, uint16_t port, const struct prefix *peer)
{
	struct explain_gw_side *s = &r->side[r->n_sides];
	struct explain_query q = {
		.dir = dir, .proto = proto, .port = port, .peer = *peer, .gateway = true,
	};

	s->p = p;
	s->dir = dir;
	explain_decide(p, t, &q, &s->res);
	s->refused = refuses(p, dir, s->res.reason);
	if (s->refused && r->refused_by < 0)
		r->refused_by = (int)r->n_sides;
	r->n_sides++;
}

void explain_gw_decide(const struct policy *src, const struct policy *dst,
		       const struct name_table *t, uint8_t proto, uint16_t port,
		       const struct prefix *from, const struct prefix *to, struct explain_gw_result *r)
{
	memset(r, 0, sizeof(*r));
	r->refused_by = -1;
	if (!src && !dst) {
		r->transit = true;
		r->pass = true;
		r->reason = SPEE_REASON_TRANSIT;
		return;
	}
	if (src)
		ask(r, src, SPEE_DIR_EGRESS, t, proto, port, to);
	if (dst && r->refused_by < 0)
		ask(r, dst, SPEE_DIR_INGRESS, t, proto, port, from);
	r->skipped = dst && r->n_sides < (src ? 2u : 1u);
	{
		const struct explain_gw_side *decided =
			&r->side[r->refused_by >= 0 ? r->refused_by : (int)r->n_sides - 1];

		r->reason = decided->res.reason;
		/* the refusal's verdict (audit mode: passed, a would-drop), else every side's pass */
		r->pass = decided->res.pass;
	}
}
