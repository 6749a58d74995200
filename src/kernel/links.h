/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * links.h - the links of an instance: the one place that decides whether
 * every hook is attached and runs the instance's own program
 * (links_assess, for apply, drift, metrics and status), the one that makes
 * them so (links_reconcile, for apply), and switching every link to other
 * programs at once (links_switch, for growth). Each link is pinned under
 * PIN_DIR/links/ by the name pindir.h gives it, so that it outlives the
 * process that made it.
 *
 * An interface has two hooks: its XDP link (ingress) and its tc egress
 * filter (the frames of packet sockets, which no cgroup hook sees), which
 * is no link but stays with the device (ifaces.h). Both take the variant
 * of their program for how the device's frames start; an interface without
 * its filter counts as missing a hook, one with another program's as
 * foreign.
 *
 * Gateway mode (the record's kind) has one hook per interface instead: a
 * bridge port its tc ingress filter (spee_gw_tc), any other interface its
 * XDP link (spee_gw_xdp, pinned gw-xdp-IF); no cgroup links. A port's
 * filter is no link and has no pin, so the record names the ports
 * (spee_instance.gw_ports); an assessment lists each as a link_state of
 * spee_gw_tc without a pin, alive while its filter is there. A bridge
 * device itself is refused: what it bridges never reaches its own hooks.
 */
#ifndef SPEE_LINKS_H
#define SPEE_LINKS_H

#include <stdbool.h>
#include <stddef.h>

#include "attach.h"
#include "diag.h"
#include "instance.h"
#include "loader.h"

/* What apply asks of the links. */
struct links_want {
	/* Interfaces for the interface programs; none: the ones attached now. */
	char *const *ifaces;
	size_t n_ifaces;
	/* The cgroup for the cgroup programs; NULL: the one the record names. */
	const char *cgroup;
};

struct links_assessment {
	struct link_state *v; /* every pin under PIN_DIR/links */
	size_t n;
	int detached; /* pinned links no longer attached */
	/* hooks without an attached link (XDP: a requested interface, or any; an interface's tc filter) */
	int missing;
	int foreign; /* attached links (or tc filters) running a program that is not the instance's */
	int stray; /* pins whose name no link of ours has (left by a process that died) */
	int unwanted; /* interface links on an interface no longer asked for */
	bool moving; /* the cgroup asked for is not the recorded one */
	bool upgrade; /* the record names another build's object */
};

/*
 * Reads every pinned link of inst and judges it against want (NULL: as the
 * instance is). "The instance's program" is the one the record's tag names,
 * around the maps pinned now (a program around other maps, left by a
 * growth cut short, is foreign). Safe from another thread than inst's owner.
 */
int links_assess(struct instance *inst, const struct links_want *want, struct links_assessment *a);

void links_assessment_free(struct links_assessment *a);

/* Every hook has an attached link (status, /healthz). */
static inline bool links_whole(const struct links_assessment *a)
{
	return !a->detached && !a->missing;
}

/* Nothing for apply to do: whole, all the instance's, nothing asked to change. */
static inline bool links_settled(const struct links_assessment *a)
{
	return a->n && links_whole(a) && !a->foreign && !a->stray && !a->unwanted && !a->moving &&
	       !a->upgrade;
}

/*
 * The interface programs (LOADER_FRAMES_* of loader.h) that reconciling
 * want (NULL: the instance as it is) needs: those for the frames of each
 * interface asked for and of each link there is. An interface that cannot
 * be classified adds nothing: its reconcile fails with the reason.
 */
unsigned links_frames_needed(const struct links_want *want, const struct links_assessment *a);

struct links_changes {
	size_t attached; /* links made, and interfaces' tc egress filters */
	size_t detached; /* links removed: no longer asked for, or stray */
	size_t replaced; /* links given this build's program (upgrade, or a foreign one) */
};

/*
 * Brings the links to what want asks for, with l's programs: detached or
 * missing links attached again, links running another program swapped in
 * place, a new cgroup's links attached before the old ones go, interfaces
 * no longer asked for and stray pins removed last. Notes in inst->rec the
 * cgroup, l's program tags and this build's object id (the caller saves
 * the record). Stops at the first failure (said in d).
 */
int links_reconcile(struct instance *inst, const struct loader *l, const struct links_want *want,
		    const struct links_assessment *a, struct links_changes *c, struct diags *d);

/* The links of a growth: each live one switched to a new program, and the one it ran. */
struct links_switched {
	struct links_assessment a;
	int *old_prog; /* fd, or -1: not live, or not switched */
	int *old_tc; /* an interface's tc egress filter program: fd, or -1 */
};

/*
 * Every live link of ours runs l's program for it, and every interface's tc
 * egress filter l's (atomically each). An interface of another network
 * namespace is refused (-EXDEV): its filter cannot be reached from here.
 */
int links_switch(struct instance *inst, const struct loader *l, struct links_switched *s,
		 struct diags *d);

/* Puts back the programs links_switch replaced; best effort, it is the way out of a failure. */
void links_restore(struct links_switched *s);

void links_switched_free(struct links_switched *s);

/* Detaches and unpins every link under PIN_DIR/links; returns how many, or -errno. */
int links_remove_all(const struct instance *inst);

#endif
