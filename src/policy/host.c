// SPDX-License-Identifier: GPL-2.0-only
#include "host.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int push_addr(struct prefix **v, size_t *count, const struct sockaddr *sa)
{
	struct prefix p = { 0 };
	struct prefix *grown;

	if (sa->sa_family == AF_INET) {
		p.family = AF_INET;
		p.len = 32;
		memcpy(p.addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		p.family = AF_INET6;
		p.len = 128;
		memcpy(p.addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
	} else {
		return 0;
	}
	for (size_t i = 0; i < *count; i++)
		if (!prefix_cmp(&(*v)[i], &p))
			return 0;
	grown = realloc(*v, (*count + 1) * sizeof(**v));
	if (!grown)
		return -ENOMEM;
	*v = grown;
	(*v)[(*count)++] = p;
	return 0;
}

int host_receive_addresses(struct prefix **out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	struct prefix *v = NULL;
	size_t count = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !err; i = i->ifa_next) {
		if (i->ifa_addr)
			err = push_addr(&v, &count, i->ifa_addr);
		/* a subnet's broadcast address is the host's too */
		if (!err && i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr)
			err = push_addr(&v, &count, i->ifa_broadaddr);
	}
	freeifaddrs(ifa);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = count;
	return 0;
}

int host_local_addresses(struct prefix **out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	struct prefix *v = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		struct prefix p = { 0 };
		struct prefix *grown;

		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			p.family = AF_INET;
			p.len = 32;
			memcpy(p.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			p.family = AF_INET6;
			p.len = 128;
			memcpy(p.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		grown = realloc(v, (count + 1) * sizeof(*v));
		if (!grown) {
			free(v);
			freeifaddrs(ifa);
			return -ENOMEM;
		}
		v = grown;
		v[count++] = p;
	}
	freeifaddrs(ifa);
	*out = v;
	*n = count;
	return 0;
}

static const struct cfg_host *by_hostname(const struct config *cfg)
{
	char name[256], *dot;
	const struct cfg_host *h;

	if (gethostname(name, sizeof(name)))
		return NULL;
	name[sizeof(name) - 1] = '\0';
	h = config_find_host(cfg, name);
	if (h)
		return h;
	dot = strchr(name, '.');
	if (dot) {
		*dot = '\0';
		return config_find_host(cfg, name);
	}
	return NULL;
}

int host_select(const struct config *cfg, const char *name, const struct cfg_host **out,
		struct diags *d)
{
	const struct cfg_host *found = NULL;
	struct prefix *local;
	size_t n_local;
	int err;

	*out = NULL;
	if (name) {
		*out = config_find_host(cfg, name);
		if (*out)
			return 0;
		diag_add(d, cfg->path, 0, 0, "host '%s' is not in the inventory", name);
		return -ENOENT;
	}
	*out = by_hostname(cfg);
	if (*out)
		return 0;
	err = host_local_addresses(&local, &n_local);
	if (err) {
		diag_add(d, NULL, 0, 0, "cannot list this machine's addresses: %s", strerror(-err));
		return err;
	}
	for (size_t h = 0; h < cfg->n_hosts; h++) {
		const struct cfg_host *ch = &cfg->hosts[h];
		bool match = false;

		for (size_t a = 0; a < ch->n_addrs && !match; a++)
			for (size_t l = 0; l < n_local && !match; l++)
				match = !prefix_cmp(&ch->addrs[a], &local[l]);
		if (!match)
			continue;
		if (found) {
			diag_add(d, cfg->path, 0, 0,
				 "this machine holds addresses of both '%s' and '%s'; use --host NAME",
				 found->name, ch->name);
			free(local);
			return -EEXIST;
		}
		found = ch;
	}
	free(local);
	if (!found) {
		diag_add(d, cfg->path, 0, 0,
			 "this machine is not in the inventory (neither its hostname nor its "
			 "addresses match a host); use --host NAME");
		return -ENOENT;
	}
	*out = found;
	return 0;
}
