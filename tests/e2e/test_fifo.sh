#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A FIFO at the config path (issue 12): the agent refuses it as a config
# error at once instead of waiting in open() for a writer, so its loop, its
# signals and its HTTP endpoint stay alive; status, whose drift check loads
# the recorded config, does not hang; check says what the path is.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init fifo
lab_spe_topology

CFG=$LAB_DIR/conf/fleet.yaml
mkdir -p "$LAB_DIR/conf"
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
PIN=$(lab_pin_dir mgmt1)
lab_on_cleanup lab_speebpf mgmt1 detach

lab_spawn mgmt1 agent "$SPEEBPF" run -c "$CFG" --host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" \
	--pin-dir "$PIN" --state-dir "$LAB_DIR/state" --metrics 127.0.0.1:9601 --drift-interval 0 --debounce-ms 100 \
	--resolve my.mailstore.com=198.19.2.100
lab_wait_log agent 'watching ' 15 || lab_die "the agent did not start: $(cat "$(lab_spawn_log agent)")"

echo "# the config file becomes a FIFO"
rm "$CFG"
mkfifo "$CFG"
expect_true "the agent reports a config error naming the FIFO" \
	lab_wait_log agent 'it is a FIFO, not a file' 10
RC=0
body=$(lab_exec mgmt1 timeout 10 curl -s -m 5 -w '\nHTTP %{http_code}\n' http://127.0.0.1:9601/metrics) || RC=$?
expect_true "its HTTP endpoint answers (exit $RC)" test "${body##*$'\n'}" = "HTTP 200"
expect_true "  and counts the config error" grep -qx 'speebpf_config_errors_total 1' <<<"$body"
RC=0
out=$(lab_exec mgmt1 timeout 20 "$SPEEBPF" status --pin-dir "$PIN" 2>&1) || RC=$?
expect_true "status does not wait on it (exit $RC)" test "$RC" != 124
expect_true "  and says the recorded config does not load" grep -q 'no longer loads' <<<"$out"
RC=0
out=$(lab_exec mgmt1 timeout 20 "$SPEEBPF" check -c "$CFG" 2>&1) || RC=$?
expect_true "check refuses it with exit 2 (exit $RC)" test "$RC" = 2
expect_true "  saying what it is" grep -q 'it is a FIFO, not a file' <<<"$out"
RC=0
lab_stop agent 10 || RC=$?	# here: only the shell that spawned it can wait for it
expect_true "SIGTERM stops the agent (exit $RC)" test "$RC" = 0
expect_true "  and the policy stays enforced" lab_speebpf mgmt1 status

lab_finish
