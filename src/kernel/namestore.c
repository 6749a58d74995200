// SPDX-License-Identifier: GPL-2.0-only
#include "namestore.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spee_abi.h"
#include "pindir.h"

/* The store, created and pinned when there is none yet. */
static int open_store(struct instance *inst)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char path[PATH_MAX];
	struct stat st;
	int fd, err = pindir_names_store(path, sizeof(path), inst->pin_dir);

	if (inst->names_fd >= 0 || err)
		return err;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "spee_names", sizeof(struct spee_name_key),
			    sizeof(struct spee_name_state), SPEE_NAMES_MAX, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	inst->names_fd = fd;
	inst->names_ino = stat(path, &st) ? 0 : st.st_ino;
	return 0;
}

static void to_state(const struct name_addrs *na, struct spee_name_state *st)
{
	memset(st, 0, sizeof(*st));
	st->last_ok = na->last_ok;
	st->ttl = na->ttl;
	st->failures = na->failures;
	st->resolved = na->resolved;
	for (size_t i = 0; i < na->n_addrs && i < SPEE_NAME_ADDRS; i++) {
		st->addrs[i].family = na->addrs[i].family;
		memcpy(st->addrs[i].addr, na->addrs[i].addr, 16);
		st->n_addrs++;
	}
	if (na->last_error)
		snprintf(st->last_error, sizeof(st->last_error), "%s", na->last_error);
}

int namestore_save(struct instance *inst, const struct name_table *t)
{
	struct spee_name_key key, next, *stale = NULL;
	struct spee_name_state st;
	int fd, err = open_store(inst);
	size_t n_stale = 0;
	bool more;

	if (err)
		return err;
	fd = inst->names_fd;
	for (size_t i = 0; i < t->n && !err; i++) {
		memset(&key, 0, sizeof(key));
		snprintf(key.name, sizeof(key.name), "%s", t->v[i].name);
		to_state(&t->v[i], &st);
		if (bpf_map_update_elem(fd, &key, &st, BPF_ANY))
			err = -errno;
	}
	/* Names the policy no longer uses go; collected first, as deleting disturbs a walk. */
	stale = calloc(SPEE_NAMES_MAX, sizeof(*stale));
	if (!stale && !err)
		err = -ENOMEM;
	for (more = !err && !bpf_map_get_next_key(fd, NULL, &next); more && n_stale < SPEE_NAMES_MAX;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (!names_find(t, key.name))
			stale[n_stale++] = key;
	}
	for (size_t i = 0; i < n_stale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
	free(stale);
	return err;
}

int namestore_load(const struct instance *inst, struct name_table *t)
{
	struct spee_name_key key, next;
	struct spee_name_state st;
	int fd = inst->names_fd, err = 0;
	bool more;

	if (fd < 0)
		return 0;
	for (more = !bpf_map_get_next_key(fd, NULL, &next); more && !err;
	     more = !bpf_map_get_next_key(fd, &key, &next)) {
		struct prefix addrs[SPEE_NAME_ADDRS];
		struct name_addrs *na;
		uint32_t n;

		key = next;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue;
		key.name[sizeof(key.name) - 1] = '\0';
		n = st.n_addrs < SPEE_NAME_ADDRS ? st.n_addrs : SPEE_NAME_ADDRS;
		for (uint32_t i = 0; i < n; i++) {
			memset(&addrs[i], 0, sizeof(addrs[i]));
			addrs[i].family = st.addrs[i].family;
			addrs[i].len = st.addrs[i].family == AF_INET ? 32 : 128;
			memcpy(addrs[i].addr, st.addrs[i].addr, 16);
		}
		err = names_set(t, key.name, addrs, n, st.ttl);
		if (err)
			break;
		na = (struct name_addrs *)names_find(t, key.name);
		na->resolved = st.resolved;
		na->last_ok = st.last_ok;
		na->failures = st.failures;
		st.last_error[sizeof(st.last_error) - 1] = '\0';
		if (st.last_error[0] && !(na->last_error = strdup(st.last_error)))
			err = -ENOMEM;
	}
	return err;
}
