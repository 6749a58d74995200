// SPDX-License-Identifier: GPL-2.0-only
#include "namestore.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "spee_abi.h"

#define NAMESTORE_PIN "maps/spee_names"

static void store_path(const char *pin_dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", pin_dir, NAMESTORE_PIN);
}

static int open_store(const char *pin_dir, bool create)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	char path[PATH_MAX];
	int fd, err;

	store_path(pin_dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0 || !create || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "spee_names", sizeof(struct spee_name_key),
			    sizeof(struct spee_name_state), SPEE_NAMES_MAX, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
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

int namestore_save(const char *pin_dir, const struct name_table *t)
{
	struct spee_name_key key, next, *stale = NULL;
	struct spee_name_state st;
	int fd = open_store(pin_dir, true), err = 0;
	size_t n_stale = 0;
	bool more;

	if (fd < 0)
		return fd;
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
	close(fd);
	return err;
}

int namestore_load(const char *pin_dir, struct name_table *t)
{
	struct spee_name_key key, next;
	struct spee_name_state st;
	int fd = open_store(pin_dir, false), err = 0;
	bool more;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
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
	close(fd);
	return err;
}

int namestore_remove(const char *pin_dir)
{
	char path[PATH_MAX];

	store_path(pin_dir, path, sizeof(path));
	return unlink(path) && errno != ENOENT ? -errno : 0;
}
