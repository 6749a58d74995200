#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# apply's failures are clear and change nothing: an unknown interface, no
# BPF permission, an inventory larger than the pinned maps; and an
# interface without native XDP gets generic mode with a warning.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
lab_require_speebpf
lab_init applyerr
lab_spe_topology
lab_spe_listeners

CFG=$LAB_DIR/fleet.yaml
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$CFG"
PIN=$(lab_pin_dir mgmt1)

# run_apply HOST ARGS...: sets OUT (stdout+stderr) and RC.
run_apply() {
	local host=$1
	shift
	RC=0
	OUT=$(lab_speebpf "$host" apply -c "$CFG" --host "$host" "$@" 2>&1) || RC=$?
}

echo "# a new instance on an interface that does not exist"
run_apply mgmt1 --iface nosuch0
expect_true "fails with exit 1" test "$RC" = 1
expect_true "  and names the interface" grep -q "no such interface: nosuch0" <<<"$OUT"
expect_false "  and leaves no pin dir" test -e "$PIN"
expect_true "  and nothing on the cgroup" test -z "$(bpftool cgroup show "$(lab_cgroup mgmt1)" 2>/dev/null | sed 1d)"

echo "# without BPF permission"
RC=0
OUT=$(lab_exec mgmt1 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$SPEEBPF" apply -c "$CFG" --host mgmt1 --iface eth0 --cgroup "$(lab_cgroup mgmt1)" \
	--pin-dir "$PIN" 2>&1) || RC=$?
expect_true "fails with exit 1" test "$RC" = 1
expect_true "  and says what is missing (got: $(head -c 200 <<<"$OUT" | tr '\n' ' '))" \
	grep -qiE "permission|not permitted|root|CAP_" <<<"$OUT"
expect_false "  and leaves no pin dir" test -e "$PIN"

echo "# an instance exists; bad updates leave it as it was"
run_apply mgmt1 --iface eth0
expect_true "a good apply succeeds" test "$RC" = 0
gen() { lab_speebpf mgmt1 status --json | jq .generation; }
before=$(gen)
run_apply mgmt1 --iface nosuch0
expect_true "an update naming a missing interface fails with exit 1" test "$RC" = 1
expect_true "  and the policy generation is unchanged" test "$(gen)" = "$before"
expect_true "  and the instance is whole" lab_speebpf mgmt1 status
printf 'hosts: [\n' >"$LAB_DIR/broken.yaml"
RC=0
OUT=$(lab_speebpf mgmt1 apply -c "$LAB_DIR/broken.yaml" --host mgmt1 2>&1) || RC=$?
expect_true "an update with a broken config exits 2" test "$RC" = 2
expect_true "  with file:line:column" grep -qE "broken.yaml:[0-9]+:[0-9]+:" <<<"$OUT"
expect_true "  and the policy generation is unchanged" test "$(gen)" = "$before"
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471

echo "# a fleet larger than the maps grows them, without a gap"
# 34,000 IH hosts are 68,000 exact entries on mgmt1, more than the maps made
# for the small fleet hold; a pinned map keeps its size, so the apply loads the
# programs again around bigger maps and swaps them in through the links.
# (The addresses are config only: nothing sends from them.)
{
	sed -n '1,/^networks:/p' "$LAB_REPO/tests/e2e/fleet-lab.yaml" | sed '$d'
	for ((i = 0; i < 34000; i++)); do
		printf '  - name: ih-big-%d\n    roles: [IH]\n    addresses: ["fd00:5e::b:%x"]\n' "$i" "$i"
	done
	sed -n '/^networks:/,$p' "$LAB_REPO/tests/e2e/fleet-lab.yaml"
} >"$LAB_DIR/huge.yaml"
links() { lab_speebpf mgmt1 status --json | jq -c '[.links[] | .link_id]'; }
progs() { lab_speebpf mgmt1 status --json | jq -c '[.links[] | .prog_id]'; }
exact_size() { bpftool map show pinned "$PIN/maps/spee_exact" | sed -n 's/.*max_entries \([0-9]*\).*/\1/p'; }
console() { lab_speebpf mgmt1 stats --json | jq '[.rules[] | select(.id == "mgmt-internal" and .direction == "ingress") | .packets] | add'; }
links_before=$(links)
progs_before=$(progs)
size_before=$(exact_size)
expect_connect cas1 mgmt1 8471
count_before=$(console)
RC=0
OUT=$(LAB_EXEC_TIMEOUT=120 lab_speebpf mgmt1 apply -c "$LAB_DIR/huge.yaml" --host mgmt1 2>&1) || RC=$?
expect_true "an inventory larger than the maps applies (exit $RC: $(tail -c 300 <<<"$OUT" | tr '\n' ' '))" test "$RC" = 0
expect_true "  and says the maps grew" grep -q "the policy maps grew to [0-9]* exact" <<<"$OUT"
expect_false "  without the refusal that the growth answered" grep -q "holds at most" <<<"$OUT"
expect_true "  and the pinned spee_exact is bigger ($size_before -> $(exact_size))" test "$(exact_size)" -gt "$size_before"
expect_true "  the same links ($links_before)" test "$(links)" = "$links_before"
expect_true "  running other programs ($progs_before -> $(progs))" test "$(progs)" != "$progs_before"
expect_true "  a new policy generation" test "$(gen)" -gt "$before"
expect_true "  no drift: the programs judge by the pinned maps" lab_speebpf mgmt1 status
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
expect_true "  and mgmt-internal counted on from $count_before ($(console))" test "$(console)" -gt "$count_before"
before=$(gen)
run_apply mgmt1
expect_true "the small fleet again applies to the grown maps" test "$RC" = 0
expect_true "  and does not grow them" test "$(grep -c 'grew' <<<"$OUT")" = 0
expect_connect cas1 mgmt1 8471

echo "# a map pinned in an older build's layout is taken over, without a gap"
# spee_ev_bucket as the build before this one made it: 16 bytes a CPU.
links_before=$(links)
rm "$PIN/maps/spee_ev_bucket"
bpftool map create "$PIN/maps/spee_ev_bucket" type percpu_array key 4 value 16 entries 1 \
	name spee_ev_bucket
expect_false "status refuses the older layout" lab_speebpf mgmt1 status
run_apply mgmt1
expect_true "an apply takes it over (exit $RC: $(tail -c 200 <<<"$OUT" | tr '\n' ' '))" test "$RC" = 0
expect_true "  and says so" grep -q "maps of another build's layout replaced" <<<"$OUT"
expect_true "  with this build's layout" \
	bash -c "bpftool map show pinned '$PIN/maps/spee_ev_bucket' | grep -q 'value 24'"
expect_true "  the same links ($links_before)" test "$(links)" = "$links_before"
expect_true "  and status is whole, with no drift" lab_speebpf mgmt1 status
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471

echo "# moving the egress programs to another cgroup"
moved="$LAB_CGROUP/mgmt1-moved"
mkdir "$moved"
cgroup_progs() { bpftool cgroup show "$1" 2>/dev/null | sed 1d | wc -l; }
run_apply mgmt1 --cgroup "$moved"
expect_true "an apply naming another cgroup succeeds ($(tail -c 200 <<<"$OUT" | tr '\n' ' '))" test "$RC" = 0
expect_true "  and status names it" test "$(lab_speebpf mgmt1 status --json | jq -r .cgroup)" = "$moved"
expect_true "  which holds the five programs (egress, connect4/6, sendmsg4/6)" test "$(cgroup_progs "$moved")" = 5
expect_true "  and the old cgroup none" test "$(cgroup_progs "$(lab_cgroup mgmt1)")" = 0
run_apply mgmt1
expect_true "moving back succeeds" test "$RC" = 0
expect_true "  and the old cgroup holds them again" test "$(cgroup_progs "$(lab_cgroup mgmt1)")" = 5
expect_true "  and the other none" test "$(cgroup_progs "$moved")" = 0
expect_connect cas1 mgmt1 8471
expect_true "detach" lab_speebpf mgmt1 detach

echo "# an interface without native XDP: generic mode, with a warning"
lab_exec cas1 ip link add br9 type bridge
lab_exec cas1 ip link set br9 up
RC=0
OUT=$(lab_speebpf cas1 apply -c "$CFG" --host cas1 --iface br9 2>&1) || RC=$?
expect_true "apply on a bridge succeeds" test "$RC" = 0
expect_true "  and warns about generic mode" grep -q "generic mode" <<<"$OUT"
expect_true "  and status shows the generic attachment" \
	test "$(lab_speebpf cas1 status --json | jq -r '.links[] | select(.kind == "xdp") | .xdp_mode')" = generic
expect_true "detach" lab_speebpf cas1 detach

lab_finish
