// SPDX-License-Identifier: GPL-2.0-only
/* events.c - the drop events' ring buffer of an instance (events.h). */
#include "events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps.h"

#define META_REFRESH_NS 1000000000ll /* rule ids are re-read at most once a second */

struct events_reader {
	struct instance *inst;
	struct ring_buffer *rb;
	events_fn fn;
	void *ctx;
	int64_t mono_to_real_ns; /* event times are CLOCK_MONOTONIC */
	struct spee_rule_meta *meta;
	int64_t meta_read_ns;
	int handed;
};

static int64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void refresh_meta(struct events_reader *r)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	if (now - r->meta_read_ns < META_REFRESH_NS)
		return;
	if (maps_read_rules(&r->inst->maps, r->meta, NULL) == 0)
		r->meta_read_ns = now;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct events_reader *r = ctx;

	if (size < sizeof(struct spee_event))
		return 0;
	refresh_meta(r);
	r->fn(r->ctx, data, r->meta, r->mono_to_real_ns);
	r->handed++;
	return 0;
}

int events_open(struct instance *inst, events_fn fn, void *ctx, struct events_reader **out,
		struct diags *d)
{
	struct events_reader *r = calloc(1, sizeof(*r));
	int err;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->meta = calloc(SPEE_MAX_RULES, sizeof(*r->meta));
	if (!r->meta) {
		free(r);
		return -ENOMEM;
	}
	r->inst = inst;
	r->fn = fn;
	r->ctx = ctx;
	r->mono_to_real_ns = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	r->rb = ring_buffer__new(inst->maps.fd[SPEE_MAP_EVENTS], on_event, r, NULL);
	if (!r->rb) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot read the events of %s: %s", inst->pin_dir,
			 strerror(-err));
		events_close(r);
		return err;
	}
	*out = r;
	return 0;
}

int events_poll(struct events_reader *r, int timeout_ms)
{
	int before = r->handed, err;

	err = timeout_ms ? ring_buffer__poll(r->rb, timeout_ms) : ring_buffer__consume(r->rb);
	if (err < 0 && err != -EINTR)
		return err;
	return r->handed - before;
}

int events_stats(struct events_reader *r, uint64_t out[SPEE_EV_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t s = 0; s < SPEE_EV_STAT_MAX; s++) {
		out[s] = 0;
		if (bpf_map_lookup_elem(r->inst->maps.fd[SPEE_MAP_EV_STATS], &s, v) == 0)
			for (int c = 0; c < ncpu; c++)
				out[s] += v[c];
	}
	free(v);
	return 0;
}

void events_close(struct events_reader *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	free(r->meta);
	free(r);
}
