// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the user-space packet model (tests/lib/pktmodel.c) on any
 * bytes. Input: one control byte (bit 0: egress; bit 1: on lo; bits 2-3:
 * the fixture policy, enforce, audit or default pass; bits 4-5: where,
 * enum pm_at: the default place, XDP on a device without a link header, tc
 * egress on an Ethernet or an IP device), then the packet (a frame on
 * ingress and at tc, an IP packet with the ethertype in its first two bytes
 * at the cgroup hook, an IP packet on a device without a link header).
 * Checks that the model reads nothing past the packet (ASan; ICMP errors'
 * quoted headers included), answers with a reason of the contract and a
 * rule only for "rule", a class only for non-IP frames, a packet count of 1
 * but for fragments of a counted datagram, that its pass/drop follows the
 * reason, mode and defaults, and that it is deterministic. Built and run by
 * `make fuzz` / `make fuzz-short`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "fixture.h"
#include "pktmodel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy *pol[3];
static struct name_table names;
static struct pktmodel *m;

static void init_once(void)
{
	if (m)
		return;
	pol[0] = fixture_policy(FX_MAIN);
	pol[1] = fixture_policy(FX_AUDIT);
	pol[2] = fixture_policy(FX_DEFPASS);
	m = calloc(1, sizeof(*m));
	if (!pol[0] || !pol[1] || !pol[2] || !m || fixture_names(&names))
		abort();
}

/* A flow and a first-fragment verdict, so that the stateful paths run too. */
static void seed(struct pktmodel *model, const struct policy *p)
{
	struct pm_flow f = { .c = { .family = 2, .proto = 17, .lport = 40000, .rport = 123,
				    .laddr = { 198, 18, 0, 10 }, .raddr = { 198, 18, 4, 1 } },
			     .reason = SPEE_REASON_UDP_REPLY,
			     .last_seen_ns = 1000 };
	struct pm_frag fr = { .family = 2, .proto = 17, .id = 77, .saddr = { 198, 18, 9, 5 },
			      .daddr = { 198, 18, 0, 10 }, .reason = SPEE_REASON_RULE,
			      .rule = 0, .l4_end = 8, .first_seen_ns = 1000 };

	pktmodel_init(model, p, &names);
	pktmodel_add_flow(model, &f);
	pktmodel_add_frag(model, &fr);
}

static void decide(const uint8_t *data, size_t size, struct pm_verdict *v)
{
	struct pm_packet pk = { .now_ns = 2000 };
	const struct policy *p = pol[((data[0] >> 2) & 3) % 3];
	uint8_t *copy;

	seed(m, p);
	pk.dir = data[0] & 1 ? SPEE_DIR_EGRESS : SPEE_DIR_INGRESS;
	pk.on_loopback = data[0] & 2;
	pk.at = (data[0] >> 4) & 3;
	if (pk.at == PM_AT_TC || pk.at == PM_AT_TC_IP)
		pk.dir = SPEE_DIR_EGRESS; /* tc is egress only */
	if (pk.at == PM_AT_XDP_IP)
		pk.dir = SPEE_DIR_INGRESS;
	data++;
	size--;
	if (pk.dir == SPEE_DIR_EGRESS && pk.at == PM_AT_DEFAULT) {
		if (size < 2)
			return;
		pk.ethertype = (uint16_t)(data[0] << 8 | data[1]);
		data += 2;
		size -= 2;
	}
	/* an exact-size heap copy, so that ASan sees any read past the end */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	pk.data = copy;
	pk.len = size;
	pktmodel_decide(m, &pk, v);
	free(copy);
	if (v->reason >= SPEE_REASON_MAX || v->bytes != size)
		abort();
	if ((v->reason == SPEE_REASON_RULE) != (v->rule >= 0))
		abort();
	if (v->rule >= 0 && (size_t)v->rule >= p->n_rules)
		abort();
	if (v->pass != explain_reason_passes(p, pk.dir, v->reason))
		abort();
	if (v->packets > 1 || (!v->packets && spee_reason_is_drop(v->reason)))
		abort();
	if (v->l2_class >= SPEE_L2_MAX || (v->l2_class >= 0) != (v->reason == SPEE_REASON_NON_IP ||
								   v->reason == SPEE_REASON_ETHERTYPE))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_verdict a = {}, b = {};

	if (size < 1)
		return 0;
	init_once();
	decide(data, size, &a);
	decide(data, size, &b);
	if (a.pass != b.pass || a.reason != b.reason || a.rule != b.rule ||
	    a.packets != b.packets || a.l2_class != b.l2_class)
		abort();
	return 0;
}
