// SPDX-License-Identifier: GPL-2.0-only
/*
 * maps_local.c - a slot's own-address sets (spee_local), derived from the
 * image's SPEE_PROTO_LOCAL entries, which stay in spee_exact as the whole
 * truth: the sets only spare the programs a hash lookup per packet.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "maps.h"

void maps_local_sets(const struct maps_image *img, struct spee_local_set out[SPEE_DIR_MAX])
{
	memset(out, 0, sizeof(struct spee_local_set) * SPEE_DIR_MAX);
	for (int dir = 0; dir < SPEE_DIR_MAX; dir++)
		out[dir].known = 1;
	for (size_t i = 0; i < img->n_exact; i++) {
		const struct spee_rule_key *k = &img->exact[i].key;
		struct spee_local_set *s;

		if (k->proto != SPEE_PROTO_LOCAL || k->dir >= SPEE_DIR_MAX)
			continue;
		/* egress: the machine's own (spee_is_local asks for LOOPBACK) */
		if (k->dir == SPEE_DIR_EGRESS && img->exact[i].v.reason != SPEE_REASON_LOOPBACK)
			continue;
		s = &out[k->dir];
		if (k->family == SPEE_FAMILY_V4 && s->n_v4 < SPEE_LOCAL_V4)
			memcpy(&s->v4[s->n_v4++], k->addr, 4);
		else if (k->family == SPEE_FAMILY_V6 && s->n_v6 < SPEE_LOCAL_V6)
			memcpy(s->v6[s->n_v6++], k->addr, 16);
		else
			s->spill = 1;
	}
}

int maps_write_local_sets(const struct spee_map_fds *m, const struct maps_image *img,
			  struct diags *d)
{
	struct spee_local_set sets[SPEE_DIR_MAX];

	maps_local_sets(img, sets);
	for (__u32 dir = 0; dir < SPEE_DIR_MAX; dir++) {
		__u32 idx = spee_local_index(img->slot, dir);

		if (bpf_map_update_elem(m->fd[SPEE_MAP_LOCAL], &idx, &sets[dir], BPF_ANY)) {
			int err = -errno;

			diag_add(d, NULL, 0, 0, "cannot write spee_local: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}
