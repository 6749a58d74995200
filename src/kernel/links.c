// SPDX-License-Identifier: GPL-2.0-only
/*
 * links.c - the links of an instance (links.h). The order of changes is
 * what keeps traffic safe: what is asked for is attached (or swapped in
 * place) before what is no longer asked for is removed, and a link that is
 * attached is never detached to be attached again.
 */
#include "links.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

/* What links_assess reads of the handle, copied under its lock. */
struct owner_view {
	uint8_t prog_tag[SPEE_PROG_KINDS][SPEE_TAG_SIZE];
	uint8_t object_id[8];
	char cgroup[SPEE_TEXT_LEN];
	uint32_t map_id[SPEE_MAP_COUNT];
};

static void view_of(struct instance *inst, struct owner_view *v)
{
	pthread_mutex_lock(&inst->mu);
	memcpy(v->prog_tag, inst->rec.prog_tag, sizeof(v->prog_tag));
	memcpy(v->object_id, inst->rec.object_id, sizeof(v->object_id));
	memcpy(v->cgroup, inst->rec.cgroup_path, sizeof(v->cgroup));
	memcpy(v->map_id, inst->map_id, sizeof(v->map_id));
	pthread_mutex_unlock(&inst->mu);
}

/* True when a map this program uses is one of ours but not the pinned one of its name. */
static bool uses_other_map(uint32_t id, const uint32_t pinned[SPEE_MAP_COUNT])
{
	struct bpf_map_info info;
	int fd, err;

	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (pinned[i] == id)
			return false;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return true;
	err = loader_map_info(fd, &info);
	close(fd);
	if (err)
		return true;
	for (int i = 0; i < SPEE_MAP_COUNT; i++)
		if (!strcmp(info.name, spee_map_names[i]))
			return true;
	return false; /* the object's own data (.rodata) or a scratch map, never pinned */
}

/* True when the program with this id has this tag and uses the pinned maps only. */
static bool runs(uint32_t prog_id, const uint8_t tag[SPEE_TAG_SIZE],
		 const uint32_t pinned[SPEE_MAP_COUNT])
{
	__u32 ids[2 * SPEE_MAP_COUNT + 8], len;
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(uintptr_t)ids;
	len = sizeof(info);
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !memcmp(info.tag, tag, SPEE_TAG_SIZE) &&
	       info.nr_map_ids <= sizeof(ids) / sizeof(ids[0]);
	close(fd);
	for (__u32 i = 0; ours && i < info.nr_map_ids; i++)
		ours = !uses_other_map(ids[i], pinned);
	return ours;
}

/* Every pin under PIN_DIR/links, read. */
static int list_links(const char *pin_dir, struct link_state **out, size_t *n)
{
	char dir[PATH_MAX];
	struct link_state *v = NULL;
	struct dirent *de;
	size_t count = 0;
	DIR *dp;
	int err = pindir_links_dir(dir, sizeof(dir), pin_dir);

	*out = NULL;
	*n = 0;
	if (err)
		return err;
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp))) {
		struct link_state *grown, *ls;
		enum spee_prog_id prog;

		if (de->d_name[0] == '.')
			continue;
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown) {
			closedir(dp);
			free(v);
			return -ENOMEM;
		}
		v = grown;
		ls = &v[count++];
		memset(ls, 0, sizeof(*ls));
		if (snprintf(ls->pin, sizeof(ls->pin), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(ls->pin)) {
			count--; /* no name of ours is that long */
			continue;
		}
		ls->known = pindir_parse_link(de->d_name, &prog, ls->iface, sizeof(ls->iface));
		ls->prog = ls->known ? (int)prog : -1;
		attach_read(ls); /* a dead pin is reported, not fatal */
	}
	closedir(dp);
	*out = v;
	*n = count;
	return 0;
}

/* The link of prog (on iface, for an interface program) among a's, or NULL. */
static const struct link_state *find(const struct links_assessment *a, enum spee_prog_id prog,
				     const char *iface)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].known && a->v[i].prog == (int)prog &&
		    (spee_progs[prog].where != SPEE_ATTACH_IFACE || !strcmp(a->v[i].iface, iface)))
			return &a->v[i];
	return NULL;
}

static bool alive(const struct link_state *ls)
{
	return ls && ls->alive;
}

static bool requested(const struct links_want *want, const char *iface)
{
	for (size_t i = 0; i < want->n_ifaces; i++)
		if (!strcmp(want->ifaces[i], iface))
			return true;
	return false;
}

/* Hooks of interface program prog without an attached link. */
static int iface_missing(const struct links_assessment *a, enum spee_prog_id prog,
			 const struct links_want *want)
{
	int missing = 0;

	if (!want->n_ifaces) {
		for (size_t i = 0; i < a->n; i++)
			if (a->v[i].known && a->v[i].prog == (int)prog && a->v[i].alive)
				return 0;
		return 1; /* an instance judges what comes in on one interface at least */
	}
	for (size_t i = 0; i < want->n_ifaces; i++)
		missing += !alive(find(a, prog, want->ifaces[i]));
	return missing;
}

int links_assess(struct instance *inst, const struct links_want *want, struct links_assessment *a)
{
	static const struct links_want as_is;
	struct owner_view v;
	uint8_t object_id[8];
	int err;

	memset(a, 0, sizeof(*a));
	if (!want)
		want = &as_is;
	view_of(inst, &v);
	err = list_links(inst->pin_dir, &a->v, &a->n);
	if (err)
		return err;
	for (size_t i = 0; i < a->n; i++) {
		struct link_state *ls = &a->v[i];

		if (!ls->known) {
			a->stray++;
			continue;
		}
		if (!ls->alive)
			a->detached++;
		else
			ls->ours = runs(ls->prog_id, v.prog_tag[ls->prog], v.map_id);
		a->foreign += ls->alive && !ls->ours;
		a->unwanted += want->n_ifaces && spee_progs[ls->prog].where == SPEE_ATTACH_IFACE &&
			       !requested(want, ls->iface);
	}
	for (int p = 0; p < SPEE_PROG_COUNT; p++)
		a->missing += spee_progs[p].where == SPEE_ATTACH_IFACE ?
				      iface_missing(a, (enum spee_prog_id)p, want) :
				      !alive(find(a, (enum spee_prog_id)p, NULL));
	loader_object_id(object_id);
	a->upgrade = memcmp(object_id, v.object_id, sizeof(object_id)) != 0;
	a->moving = want->cgroup && v.cgroup[0] && strcmp(want->cgroup, v.cgroup);
	return 0;
}

void links_assessment_free(struct links_assessment *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ---- reconciling ---- */

/* One link brought to what it should be: attached, and running l's program for it. */
static int reconcile_one(struct instance *inst, const struct loader *l, const struct link_state *ls,
			 enum spee_prog_id prog, const char *iface, const char *cgroup,
			 const char *pin, const uint8_t tag[SPEE_TAG_SIZE],
			 struct links_changes *c, struct diags *d)
{
	int fd = loader_prog_fd(l, prog), err;
	bool generic;
	char what[32];

	if (alive(ls)) {
		if (runs(ls->prog_id, tag, inst->map_id))
			return 0;
		/* Replaced behind our back, or an older build's program: swap in place, no gap. */
		err = attach_update(ls->pin, fd);
		if (err)
			diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
				 strerror(-err));
		else
			c->replaced++;
		return err;
	}
	if (ls) /* pinned but detached: the pin must go before a new link takes its place */
		attach_detach_pinned(ls->pin);
	spee_prog_kind(prog, what, sizeof(what));
	if (spee_progs[prog].where == SPEE_ATTACH_IFACE)
		err = attach_iface(fd, loader_attach_type(prog), iface, pin, &generic);
	else
		err = attach_cgroup(fd, loader_attach_type(prog), what, cgroup, pin);
	if (err)
		diag_add(d, NULL, 0, 0, "cannot attach %s to %s: %s", what,
			 spee_progs[prog].where == SPEE_ATTACH_IFACE ? iface : cgroup,
			 strerror(-err));
	else
		c->attached++;
	return err;
}

/* The interfaces the interface programs go on: asked for, or those attached now. */
static int iface_list(const struct links_want *want, const struct links_assessment *a,
		      char ***out, size_t *n)
{
	char **v;

	*n = 0;
	if (want->n_ifaces) {
		*out = (char **)want->ifaces;
		*n = want->n_ifaces;
		return 0;
	}
	v = calloc(a->n ? a->n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->n; i++) {
		bool dup = false;

		if (!a->v[i].known || spee_progs[a->v[i].prog].where != SPEE_ATTACH_IFACE)
			continue;
		for (size_t k = 0; k < *n && !dup; k++)
			dup = !strcmp(v[k], a->v[i].iface);
		if (!dup)
			v[(*n)++] = (char *)a->v[i].iface;
	}
	*out = v;
	return 0;
}

/* A cgroup program's link on a new cgroup: made under a staging pin, the old one removed, renamed. */
static int move_one(struct instance *inst, const struct loader *l, const struct link_state *ls,
		    enum spee_prog_id prog, const char *cgroup, const char *pin,
		    const uint8_t tag[SPEE_TAG_SIZE], struct links_changes *c, struct diags *d)
{
	char staging[PATH_MAX];
	int err = pindir_staging(staging, sizeof(staging), pin);

	if (err)
		return err;
	unlink(staging); /* left by a process that died here */
	err = reconcile_one(inst, l, NULL, prog, NULL, cgroup, staging, tag, c, d);
	if (err)
		return err;
	if (ls && attach_detach_pinned(ls->pin) == 0)
		c->detached++;
	if (rename(staging, pin)) {
		err = -errno;
		diag_add(d, NULL, 0, 0, "cannot rename %s: %s", staging, strerror(-err));
	}
	return err;
}

int links_reconcile(struct instance *inst, const struct loader *l, const struct links_want *want,
		    const struct links_assessment *a, struct links_changes *c, struct diags *d)
{
	uint8_t tag[SPEE_PROG_KINDS][SPEE_TAG_SIZE] = { { 0 } };
	const char *cgroup = want->cgroup ? want->cgroup : inst->rec.cgroup_path;
	char pin[PATH_MAX], **ifaces = NULL;
	size_t n_ifaces = 0;
	int err = 0;

	for (int p = 0; p < SPEE_PROG_COUNT && !err; p++)
		err = loader_prog_tag(l, (enum spee_prog_id)p, tag[p]);
	if (!err)
		err = pindir_links_dir(pin, sizeof(pin), inst->pin_dir);
	if (!err && (err = pindir_mkdir(pin)))
		diag_add(d, NULL, 0, 0, "cannot create %s: %s", pin, strerror(-err));
	if (!err && !cgroup[0]) {
		diag_add(d, NULL, 0, 0, "the instance at %s names no cgroup: give --cgroup",
			 inst->pin_dir);
		err = -EINVAL;
	}
	if (!err)
		err = iface_list(want, a, &ifaces, &n_ifaces);
	for (int p = 0; p < SPEE_PROG_COUNT && !err; p++) {
		enum spee_prog_id prog = (enum spee_prog_id)p;

		if (spee_progs[p].where == SPEE_ATTACH_IFACE) {
			for (size_t i = 0; i < n_ifaces && !err; i++) {
				err = pindir_link(pin, sizeof(pin), inst->pin_dir, prog, ifaces[i]);
				if (!err)
					err = reconcile_one(inst, l, find(a, prog, ifaces[i]), prog,
							    ifaces[i], NULL, pin, tag[p], c, d);
			}
			continue;
		}
		err = pindir_link(pin, sizeof(pin), inst->pin_dir, prog, NULL);
		if (!err && a->moving)
			err = move_one(inst, l, find(a, prog, NULL), prog, cgroup, pin, tag[p], c, d);
		else if (!err)
			err = reconcile_one(inst, l, find(a, prog, NULL), prog, NULL, cgroup, pin,
					    tag[p], c, d);
	}
	/* Last, what is no longer asked for: interfaces dropped, and stray pins. */
	for (size_t i = 0; i < a->n && !err; i++) {
		const struct link_state *ls = &a->v[i];
		bool drop = !ls->known || (want->n_ifaces &&
					   spee_progs[ls->prog].where == SPEE_ATTACH_IFACE &&
					   !requested(want, ls->iface));

		if (drop && attach_detach_pinned(ls->pin) == 0)
			c->detached++;
	}
	if (ifaces != want->ifaces)
		free(ifaces);
	if (err)
		return err;
	pthread_mutex_lock(&inst->mu);
	if (cgroup != inst->rec.cgroup_path)
		instance_set_text(inst->rec.cgroup_path, sizeof(inst->rec.cgroup_path), cgroup);
	memcpy(inst->rec.prog_tag, tag, sizeof(tag));
	loader_object_id(inst->rec.object_id);
	pthread_mutex_unlock(&inst->mu);
	return 0;
}

/* ---- switching for a growth ---- */

int links_switch(struct instance *inst, const struct loader *l, struct links_switched *s,
		 struct diags *d)
{
	int err = links_assess(inst, NULL, &s->a);

	s->old_prog = NULL;
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list the links of %s: %s", inst->pin_dir,
			 strerror(-err));
		return err;
	}
	s->old_prog = malloc((s->a.n ? s->a.n : 1) * sizeof(*s->old_prog));
	if (!s->old_prog)
		return -ENOMEM;
	for (size_t i = 0; i < s->a.n; i++)
		s->old_prog[i] = -1;
	for (size_t i = 0; i < s->a.n; i++) {
		const struct link_state *ls = &s->a.v[i];
		int old;

		if (!ls->known || !ls->alive)
			continue; /* for the next reconcile to attach again, or remove */
		old = bpf_prog_get_fd_by_id(ls->prog_id);
		if (old < 0) {
			err = -errno;
			diag_add(d, NULL, 0, 0, "cannot open the program of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
		err = attach_update(ls->pin, loader_prog_fd(l, (enum spee_prog_id)ls->prog));
		if (err) {
			close(old);
			diag_add(d, NULL, 0, 0, "cannot update the program of %s: %s", ls->pin,
				 strerror(-err));
			return err;
		}
		s->old_prog[i] = old;
	}
	return 0;
}

void links_restore(struct links_switched *s)
{
	for (size_t i = 0; s->old_prog && i < s->a.n; i++)
		if (s->old_prog[i] >= 0)
			attach_update(s->a.v[i].pin, s->old_prog[i]);
}

void links_switched_free(struct links_switched *s)
{
	for (size_t i = 0; s->old_prog && i < s->a.n; i++)
		if (s->old_prog[i] >= 0)
			close(s->old_prog[i]);
	free(s->old_prog);
	s->old_prog = NULL;
	links_assessment_free(&s->a);
}

int links_remove_all(const struct instance *inst)
{
	struct link_state *v;
	size_t n;
	int err = list_links(inst->pin_dir, &v, &n), removed = 0;

	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		int e = attach_detach_pinned(v[i].pin);

		if (!e)
			removed++;
		else if (!err)
			err = e;
	}
	free(v);
	return err ? err : removed;
}
