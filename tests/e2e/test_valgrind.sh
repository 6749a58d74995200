#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The agent's loop under valgrind, through a series of reloads (new hosts,
# a broken config, a repaired one, SIGHUP), drift checks and metrics
# scrapes: no leak and no invalid access. valgrind does not model every bpf()
# command (batch lookups, link creation: it warns "unhandled eBPF command"),
# so it cannot know what the kernel wrote; undefined-value checks are off and
# tests/valgrind/bpf.supp names the one bpf() argument it misreads.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || lab_skip "no valgrind"
lab_init valgrind
lab_spe_topology
BIN=$LAB_REPO/build/speebpf
[[ -x $BIN ]] || lab_skip "no $BIN"
BASE=$LAB_REPO/tests/e2e/fleet-lab.yaml
CFG=$LAB_DIR/conf/fleet.yaml
mkdir -p "$LAB_DIR/conf"
cp "$BASE" "$CFG"

lab_spawn mgmt1 agent valgrind --error-exitcode=99 --undef-value-errors=no \
	--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	--suppressions="$LAB_REPO/tests/valgrind/bpf.supp" \
	"$BIN" run -c "$CFG" --host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" \
	--pin-dir "$(lab_pin_dir mgmt1)" --state-dir "$LAB_DIR/state" --drift-interval 1 --debounce-ms 50 --metrics 127.0.0.1:9600 \
	--resolve my.mailstore.com=198.19.2.100
lab_wait_log agent 'watching ' 90 || lab_die "the agent did not start: $(cat "$(lab_spawn_log agent)")"
for i in 1 2 3 4 5; do
	sed "s/^networks:/  - name: x$i\n    roles: [IH]\n    addresses: [198.18.1.$i]\nnetworks:/" "$BASE" >"$CFG.n"
	mv "$CFG.n" "$CFG"
	lab_sleep 1.5
done
printf 'hosts: [\n' >"$CFG.n"
mv "$CFG.n" "$CFG"
lab_sleep 1.5
cp "$BASE" "$CFG.n"
mv "$CFG.n" "$CFG"
lab_sleep 1.5
kill -HUP "$(lab_spawn_pid agent)"
lab_sleep 1.5
expect_true "the agent serves /metrics meanwhile" \
	lab_exec mgmt1 curl -sf -o /dev/null http://127.0.0.1:9600/metrics
log=$(lab_spawn_log agent)
rc=0
lab_stop agent 60 || rc=$?
expect_true "the agent applied every reload (7 generations)" grep -q 'applied generation 7 ' "$log"
expect_true "valgrind found no error and no leak (exit $rc)" test "$rc" = 0
expect_true "  and says every heap block was freed" grep -q 'All heap blocks were freed' "$log"
"$BIN" detach --pin-dir "$(lab_pin_dir mgmt1)" >/dev/null
lab_finish
