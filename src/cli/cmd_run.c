// SPDX-License-Identifier: GPL-2.0-only
/* speebpf run: the agent (see agent.h). */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "apply.h"
#include "cli.h"
#include "log.h"

static int do_run(const struct cli_args *a, struct instance *inst)
{
	struct agent_settings s = {
		.config = cli_text(a, CLI_OPT_CONFIG),
		.host = cli_text(a, CLI_OPT_HOST),
		.gateway = cli_flag(a, CLI_OPT_GATEWAY),
		.cgroup = cli_text(a, CLI_OPT_CGROUP),
		.pin_dir = cli_text(a, CLI_OPT_PIN_DIR),
		.audit = cli_flag(a, CLI_OPT_AUDIT),
		.pinned = &a->pinned,
		.metrics = cli_text(a, CLI_OPT_METRICS),
		.debounce_ms = (unsigned)cli_uint(a, CLI_OPT_DEBOUNCE_MS),
		.drift_interval_s = (unsigned)cli_uint(a, CLI_OPT_DRIFT_INTERVAL),
		.verify_interval_s = (unsigned)cli_uint(a, CLI_OPT_VERIFY_INTERVAL),
		.verify_timeout_ms = (unsigned)cli_uint(a, CLI_OPT_TIMEOUT_MS),
		.state_dir = cli_text(a, CLI_OPT_STATE_DIR),
		.confirm_s = (unsigned)cli_uint(a, CLI_OPT_CONFIRM),
	};
	int err;

	(void)inst; /* the agent opens and keeps its own */
	s.ifaces = cli_list(a, CLI_OPT_IFACE, &s.n_ifaces);
	if (s.gateway) {
		/* the interfaces by name, no bridge device: as apply --gateway */
		struct diags d = { 0 };
		bool all = false;

		for (size_t i = 0; i < s.n_ifaces; i++)
			all |= !strcmp(s.ifaces[i], APPLY_IFACES_ALL);
		if (all)
			diag_add(&d, NULL, 0, 0,
				 "--gateway needs the interfaces by name: --iface all would put it "
				 "on every interface of the machine");
		else
			apply_check_gateway_ifaces(s.ifaces, s.n_ifaces, &d);
		if (d.n) {
			cli_print_diags(&d, false, NULL);
			diags_free(&d);
			return -CLI_EUSAGE;
		}
	}
	log_set_format((enum log_format)log_format_parse(cli_text(a, CLI_OPT_LOG_FORMAT)));
	err = agent_run(&s);
	return err == AGENT_EUSAGE ? -CLI_EUSAGE : err;
}

CLI_COMMAND(run, .summary = "apply, then keep the policy current (the agent)",
	    .description =
		    "  Applies, then keeps the policy current: reloads when FILE changes (or on\n"
		    "  SIGHUP), re-resolves DNS names when their TTL runs out, checks every\n"
		    "  --drift-interval seconds that the kernel enforces what was compiled and\n"
		    "  repairs it if not. Without --iface it follows the interfaces holding the\n"
		    "  host's addresses; with --gateway it keeps every inventory host's policy on\n"
		    "  the interfaces given, as apply --gateway. A config it cannot apply leaves\n"
		    "  it up and unready (/readyz); started so with no pinned instance, it applies\n"
		    "  the last good config kept in --state-dir. With --confirm, every change it\n"
		    "  applies reverts unless `speebpf confirm` runs in time. With\n"
		    "  --verify-interval, runs `speebpf verify` for this host every SECS seconds\n"
		    "  and exports its results in /metrics (speebpf_verify_*). SIGTERM and SIGINT\n"
		    "  stop the agent and leave the policy enforced; `speebpf detach` removes it.",
	    .access = CLI_CREATES,
	    .options = CLI_TAKES(CLI_APPLY_OPTIONS, CLI_USE(LOG_FORMAT), CLI_USE(METRICS),
				 CLI_USE(DRIFT_INTERVAL), CLI_USE(DEBOUNCE_MS), CLI_USE(STATE_DIR),
				 CLI_USE(CONFIRM), CLI_USE(VERIFY_INTERVAL), CLI_USE(TIMEOUT_MS)),
	    .rules = CLI_RULES({ CLI_NEEDS, CLI_OPT_TIMEOUT_MS, CLI_OPT_VERIFY_INTERVAL },
			       CLI_GATEWAY_RULES,
			       { CLI_EXCLUDES, CLI_OPT_GATEWAY, CLI_OPT_VERIFY_INTERVAL }),
	    .run = do_run);
