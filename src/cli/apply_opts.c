// SPDX-License-Identifier: GPL-2.0-only
#include "apply_opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "instance.h"
#include "resolve.h"

enum {
	OPT_HOST = 1000,
	OPT_IFACE,
	OPT_CGROUP,
	OPT_PIN_DIR,
	OPT_AUDIT,
	OPT_CONFIRM,
	OPT_RESOLVE,
	OPT_LOG_FORMAT,
	OPT_METRICS,
	OPT_DRIFT_INTERVAL,
	OPT_DEBOUNCE_MS,
};

int apply_opts_parse(int argc, char **argv, struct apply_opts *o, void (*usage)(FILE *))
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "iface", required_argument, NULL, OPT_IFACE },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "audit", no_argument, NULL, OPT_AUDIT },
		{ "confirm", required_argument, NULL, OPT_CONFIRM },
		{ "resolve", required_argument, NULL, OPT_RESOLVE },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "metrics", required_argument, NULL, OPT_METRICS },
		{ "drift-interval", required_argument, NULL, OPT_DRIFT_INTERVAL },
		{ "debounce-ms", required_argument, NULL, OPT_DEBOUNCE_MS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_dir = INSTANCE_DEFAULT_PIN_DIR;
	o->drift_interval = 30;
	o->debounce_ms = 200;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_HOST:
			o->host = optarg;
			break;
		case OPT_IFACE: {
			char **v = realloc(o->ifaces, (o->n_ifaces + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			o->ifaces = v;
			o->ifaces[o->n_ifaces++] = optarg;
			break;
		}
		case OPT_CGROUP:
			o->cgroup = optarg;
			break;
		case OPT_PIN_DIR:
			o->pin_dir = optarg;
			break;
		case OPT_AUDIT:
			o->audit = true;
			break;
		case OPT_CONFIRM:
			if (!cli_parse_uint(optarg, 1, 86400, &o->confirm_secs)) {
				fprintf(stderr, "speebpf: --confirm %s: seconds, 1-86400\n", optarg);
				return -CLI_EUSAGE;
			}
			break;
		case OPT_RESOLVE:
			if (names_set_from_arg(&o->pinned, optarg)) {
				fprintf(stderr, "speebpf: --resolve %s: expected NAME=ADDR[,ADDR]\n",
					optarg);
				return -CLI_EUSAGE;
			}
			break;
		case OPT_LOG_FORMAT:
			o->log_format = optarg;
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_DRIFT_INTERVAL:
			if (!cli_parse_uint(optarg, 0, 86400, &o->drift_interval)) {
				fprintf(stderr, "speebpf: --drift-interval %s: seconds, 0-86400\n",
					optarg);
				return -CLI_EUSAGE;
			}
			break;
		case OPT_DEBOUNCE_MS:
			if (!cli_parse_uint(optarg, 0, 60000, &o->debounce_ms)) {
				fprintf(stderr, "speebpf: --debounce-ms %s: 0-60000\n", optarg);
				return -CLI_EUSAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -CLI_EUSAGE;
		}
	}
	if (!o->config || optind != argc) {
		usage(stderr);
		return -CLI_EUSAGE;
	}
	return 0;
}

void apply_opts_free(struct apply_opts *o)
{
	free(o->ifaces);
	names_free(&o->pinned);
}

int apply_opts_resolve(const struct apply_opts *o, const struct policy *p, struct name_table *t)
{
	struct resolver *r;
	char **todo;
	size_t n = 0;
	int err = 0;

	if (!p->n_names)
		return 0;
	todo = calloc(p->n_names, sizeof(*todo));
	if (!todo)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_names; i++) {
		const struct name_addrs *pin = names_find(&o->pinned, p->names[i]);

		if (pin)
			err = names_set(t, pin->name, pin->addrs, pin->n_addrs, 0);
		else
			todo[n++] = p->names[i];
		if (err)
			goto out;
	}
	if (n) {
		err = resolver_open(&r, 2000);
		if (err)
			goto out;
		resolver_resolve_all(r, t, todo, n);
		resolver_close(r);
		for (size_t i = 0; i < n; i++) {
			const struct name_addrs *na = names_find(t, todo[i]);

			if (!na || !na->n_addrs)
				fprintf(stderr, "speebpf: warning: %s does not resolve (%s); the rules "
						"naming it allow nothing until it does\n",
					todo[i], na && na->last_error ? na->last_error : "no answer");
		}
	}
out:
	free(todo);
	return err;
}
