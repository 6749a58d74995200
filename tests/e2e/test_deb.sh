#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The Debian package (`make deb`): lintian accepts it; it installs, starts
# with a config, and purges leaving nothing behind.
#
# Where: an overlay of this machine's root in a mount namespace of its own
# (the test's, made at its start), so that dpkg installs and purges
# for real without touching the machine, and what the package left behind is
# exactly the overlay's upper layer. Inside, /run is a fresh tmpfs, /sys/fs/bpf
# a private bpffs, and the cgroup2 mount is made in a cgroup namespace rooted
# at mgmt1's lab cgroup: the agent's defaults (pin dir, the cgroup2 root) land
# in the lab, never on the machine's own cgroup root or interfaces.
#
# How it starts without systemd (PID 1 is not systemd here, nor in CI): the
# installed unit's ExecStart line, with /etc/default/speebpf's SPEEBPF_ARGS as
# systemd expands them, runs chrooted in mgmt1's network namespace, with what
# systemd would give it: StateDirectory, NOTIFY_SOCKET (READY=1 and the
# watchdog's WATCHDOG=1 are received) and WATCHDOG_USEC; stopped with SIGTERM
# to the main process (KillMode=process). Of systemd's own part: the unit is
# not enabled by the package, systemd-analyze verify accepts it, its
# ConditionPathExists holds only once the config exists, and every system
# call and socket family the agent uses (strace) is allowed by its
# SystemCallFilter and RestrictAddressFamilies.
set -euo pipefail
# The whole test runs in a mount namespace of its own: its mounts (the
# overlay root and what is mounted in it) vanish with it, whatever happens.
if [[ -z ${_SPEEBPF_DEB_NS:-} ]]; then
	_SPEEBPF_DEB_NS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
DEB=${SPEEBPF_DEB:-$(ls -t "$LAB_REPO"/build/deb/speebpf_*_*.deb 2>/dev/null | grep -v dbgsym | head -n 1)}
[[ -f $DEB ]] || lab_skip "no package (make deb)"
for t in lintian dpkg-deb strace socat curl; do
	command -v "$t" >/dev/null || lab_skip "no $t (tools/install-deps.sh)"
done

lab_init deb
echo "# the package"
expect_true "lintian accepts it without errors" lintian --fail-on error "$DEB"

lab_host mgmt1 198.18.0.10 fd00:5e::10
lab_host cas1 198.18.0.11 fd00:5e::11
lab_host client 198.19.1.1 fd00:5e::1:1
lab_listen mgmt1 listen-mgmt1 :: 8471,8470,22 --echo

# The root: an overlay of / with its upper layer on a tmpfs.
R=$LAB_DIR/root
OVL=$LAB_DIR/overlay
mkdir -p "$R" "$OVL"
lab_on_cleanup umount -l "$OVL"
lab_on_cleanup umount -R -l "$R"	# (hooks run newest first)
mount -t tmpfs -o mode=0755 tmpfs "$OVL"
mkdir "$OVL/upper" "$OVL/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$OVL/upper,workdir=$OVL/work" "$R"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys"
mount -t bpf -o mode=0700 bpf "$R/sys/fs/bpf"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"
# cgroup2, mounted from inside a cgroup namespace rooted at mgmt1's cgroup:
# its root directory is that cgroup. It goes where a pure cgroup v2 system
# has it (inside the overlay root: the machine's own layout is not assumed).
CG_IN_ROOT=$R/sys/fs/cgroup # lint: data
(
	echo "$BASHPID" >"$(lab_cgroup mgmt1)/cgroup.procs"
	exec unshare --cgroup -- mount -t cgroup2 cgroup2 "$CG_IN_ROOT"
) || lab_die "cannot mount cgroup2 in the overlay root"
# root_cmd CMD...: CMD chrooted in the overlay, in mgmt1's network namespace
# and cgroup, in a UTS namespace named mgmt1 (a host named after its
# inventory entry). The command line for lab_spawn; in_root runs it.
root_cmd() {
	printf '%q ' nsenter --net="$(lab_netns_path mgmt1)" -- unshare --uts -- \
		sh -c 'hostname mgmt1 && exec chroot "$0" "$@"' "$R" "$@"
}
in_root() {
	(
		echo "$BASHPID" >"$(lab_cgroup mgmt1)/cgroup.procs"
		eval "exec $(root_cmd "$@")"
	)
}
# (a new bpffs holds the kernel's maps.debug and progs.debug iterators)
no_pins() { [[ -z $(ls -A "$R/sys/fs/bpf" | grep -v '\.debug$') ]]; }
no_xdp() { ! ip -n "$(lab_netns mgmt1)" link show eth0 | grep -q xdp; }
no_cgroup_progs() { [[ -z $(bpftool cgroup show "$(lab_cgroup mgmt1)") ]]; }
metrics_say() { # whole first: grep -q would close the pipe on curl (exit 23 under pipefail)
	local out
	out=$(lab_exec mgmt1 curl -sf --max-time 5 http://127.0.0.1:9600/metrics) && grep -qx "$1" <<<"$out"
}

# Before anything runs there: the cgroup the agent will find is mgmt1's.
[[ $(stat -c %i "$CG_IN_ROOT") == $(stat -c %i "$(lab_cgroup mgmt1)") ]] ||
	lab_die "the overlay's cgroup2 root is not mgmt1's lab cgroup"
[[ $(in_root awk '$3 == "cgroup2" { print $2 }' /proc/mounts) == /sys/fs/cgroup ]] ||
	lab_die "the overlay root sees another cgroup2 mount"

echo "# install"
cp "$DEB" "$R/tmp/speebpf.deb"
expect_true "dpkg -i installs it" in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/speebpf.deb
rm -f "$R/tmp/speebpf.deb"
for f in /usr/sbin/speebpf /lib/systemd/system/speebpf.service /etc/default/speebpf \
	/usr/share/doc/speebpf/examples/fleet.example.yaml /usr/share/speebpf/grafana/speebpf.json \
	/usr/share/speebpf/prometheus/speebpf-alerts.yml /usr/share/man/man8/speebpf.8.gz \
	/usr/share/bash-completion/completions/speebpf; do
	expect_true "it installed $f" test -e "$R$f"
done
# The man page and the completion, generated in the package's build: every
# command the installed binary has, speebpf(8) has a section of and the
# completion offers.
installed_commands() { chroot "$R" /usr/sbin/speebpf help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'; }
man_has_every_command() {
	local page c
	page=$(zcat "$R/usr/share/man/man8/speebpf.8.gz") && grep -q '^\.TH SPEEBPF 8 ' <<<"$page" || return 1
	for c in $(installed_commands); do
		grep -qxF ".SS \"speebpf $c\"" <<<"$page" || { echo "no section for $c"; return 1; }
	done
}
completion_offers_every_command() {
	local offered c
	offered=$(bash --norc --noprofile -c 'source /usr/share/bash-completion/bash_completion; source "$1"
		COMP_WORDS=(speebpf ""); COMP_CWORD=1; COMP_LINE="speebpf "; COMP_POINT=8
		_speebpf speebpf "" speebpf; printf "%s\n" "${COMPREPLY[@]}"' _ \
		"$R/usr/share/bash-completion/completions/speebpf") || return 1
	for c in $(installed_commands); do
		grep -qx "$c" <<<"$offered" || { echo "$c not offered"; return 1; }
	done
}
expect_true "the man page is speebpf(8), with a section for every command" man_has_every_command
expect_true "the bash completion offers every command" completion_offers_every_command
expect_true "/etc/default/speebpf is a conffile" grep -qx /etc/default/speebpf "$R/var/lib/dpkg/info/speebpf.conffiles"
expect_false "no live config: the example is only an example" test -e "$R/etc/speebpf/fleet.yaml"
expect_true "the unit is not enabled" sh -c "[ \"\$(chroot '$R' systemctl is-enabled speebpf.service 2>&1)\" = disabled ]"
expect_true "nothing was started: no pin" no_pins
expect_true "no XDP program on mgmt1's eth0" no_xdp
expect_true "no program on mgmt1's cgroup" no_cgroup_progs
expect_true "systemd-analyze verify accepts the installed unit" sh -c "
	out=\$(chroot '$R' systemd-analyze verify /lib/systemd/system/speebpf.service 2>&1); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
expect_true "without a config, the unit's condition keeps it from starting" sh -c "
	chroot '$R' systemd-analyze condition --unit=speebpf.service 2>&1 | grep -q 'ConditionPathExists=/etc/speebpf/fleet.yaml failed'"

echo "# start with a config, as systemd would"
cp "$LAB_REPO/tests/e2e/fleet-lab.yaml" "$R/etc/speebpf/fleet.yaml"
expect_true "with the config, the condition holds" sh -c "
	chroot '$R' systemd-analyze condition --unit=speebpf.service 2>&1 | grep -q 'ConditionPathExists=/etc/speebpf/fleet.yaml succeeded'"
UNIT=$R/lib/systemd/system/speebpf.service
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
# EnvironmentFile=-/etc/default/speebpf; $SPEEBPF_ARGS splits at whitespace, as systemd does.
SPEEBPF_ARGS=$(. "$R/etc/default/speebpf" && printf '%s' "${SPEEBPF_ARGS:-}")
EXEC=${EXEC//\$SPEEBPF_ARGS/$SPEEBPF_ARGS}
read -r -a EXEC_ARGV <<<"$EXEC"
echo "ExecStart: ${EXEC_ARGV[*]}"
install -d -m 0700 "$R/var/lib/speebpf"	# StateDirectory=speebpf
lab_spawn mgmt1 notify socat -u UNIX-RECV:"$R/run/notify",mode=0600 STDOUT
for _ in $(seq 100); do [[ -S $R/run/notify ]] && break; sleep 0.02; done
eval "lab_spawn mgmt1 agent $(root_cmd env NOTIFY_SOCKET=/run/notify WATCHDOG_USEC=1000000 \
	strace -f -qq -o /run/agent.strace "${EXEC_ARGV[@]}")"
expect_true "the agent tells systemd it is ready (READY=1)" lab_wait_log notify 'READY=1' 30
expect_true "and pings the watchdog (WATCHDOG=1)" lab_wait_log notify 'WATCHDOG=1' 5
expect_connect cas1 mgmt1 8471
expect_blocked client mgmt1 8471
expect_true "the installed speebpf shows the instance at its default pin dir" \
	in_root speebpf status --pin-dir /sys/fs/bpf/speebpf
expect_true "XDP is on mgmt1's eth0 (in the lab)" sh -c "ip -n $(lab_netns mgmt1) link show eth0 | grep -q xdp"
expect_true "egress is attached to mgmt1's lab cgroup (the overlay's cgroup2 root)" \
	sh -c "bpftool cgroup show '$(lab_cgroup mgmt1)' | grep -q ."
expect_true "/metrics on 127.0.0.1:9600 says the policy is attached" metrics_say 'speebpf_attached 1'
# /readyz is CONTRACT §4; a build without it answers 404 there and /healthz serves.
ready=$(lab_exec mgmt1 curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9600/readyz || true)
if [[ $ready == 404 ]]; then
	echo "   (this build has no /readyz yet: /healthz)"
	ready=$(lab_exec mgmt1 curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9600/healthz || true)
fi
expect_true "the agent is ready (HTTP $ready)" test "$ready" = 200

echo "# stop (systemctl stop: SIGTERM to the main process)"
AGENT=$(pgrep -f -n "^/usr/sbin/speebpf run -c /etc/speebpf/fleet.yaml" -P "$(pgrep -f -n "^strace -f -qq -o /run/agent.strace")" || true)
[[ -n $AGENT ]] || lab_die "cannot find the agent's pid"
kill -TERM "$AGENT"
rc=0; lab_wait agent 15 || rc=$?
expect_true "the agent ends with status 0 (strace: $rc; its log: $(tail -n 2 "$(lab_spawn_log agent)" | tr "\n" " "))" test "$rc" = 0
expect_true "the agent said STOPPING=1" lab_wait_log notify 'STOPPING=1' 1
expect_blocked client mgmt1 8471	# enforcement outlives the agent
expect_connect cas1 mgmt1 8471

echo "# systemd's sandbox allows what the agent did"
TRACE=$R/run/agent.strace
# expand GROUP|NAME...: the system calls systemd-analyze puts in these filter entries.
expand() {
	local e
	for e in "$@"; do
		if [[ $e == @* ]]; then
			systemd-analyze syscall-filter "$e" | sed -n 's/^    \([^#][^ ]*\)$/\1/p' |
				while read -r x; do expand "$x"; done
		else
			echo "$e"
		fi
	done
}
allowed=$LAB_DIR/allowed
: >"$allowed"
while read -r line; do	# SystemCallFilter= lines in order: allow, ~deny, allow
	read -r -a items <<<"$line"
	if [[ ${items[0]} == "~"* ]]; then
		items[0]=${items[0]#\~}
		expand "${items[@]}" | sort -u >"$allowed.deny"
		grep -vxF -f "$allowed.deny" "$allowed" >"$allowed.new" || true
		mv "$allowed.new" "$allowed"
	else
		expand "${items[@]}" >>"$allowed"
	fi
done < <(sed -n 's/^SystemCallFilter=//p' "$UNIT")
sort -u -o "$allowed" "$allowed"
used=$(awk '{ s = $2; sub(/\(.*/, "", s); if (s ~ /^[a-z_0-9]+$/) print s }' "$TRACE" | sort -u)
expect_true "strace saw the agent's system calls ($(wc -w <<<"$used") of them, bpf among them)" \
	grep -qx bpf <<<"$used"
missing=$(grep -vxF -f "$allowed" <<<"$used" || true)
expect_true "every one is in the unit's SystemCallFilter${missing:+ (not: $(echo $missing))}" test -z "$missing"
families=$(grep -o 'socket(AF_[A-Z0-9]*' "$TRACE" | sed 's/socket(//' | sort -u | tr '\n' ' ')
expect_true "every socket family it opened ($families) is in RestrictAddressFamilies" sh -c "
	for f in $families; do grep -q \"^RestrictAddressFamilies=.*\\<\$f\\>\" '$UNIT' || { echo \$f; exit 1; }; done"
rm -f "$TRACE" "$R/run/notify"

echo "# remove and purge"
# The administrator's own file goes first: dpkg leaves files it did not install.
rm "$R/etc/speebpf/fleet.yaml"
expect_true "dpkg --purge removes it" in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge speebpf
expect_true "removing it detached the instance: no pin" no_pins
expect_true "no XDP program on mgmt1's eth0" no_xdp
expect_true "no program on mgmt1's cgroup" no_cgroup_progs
expect_connect client mgmt1 8471	# no firewall any more
# What is left in the upper layer: dpkg's own records, logs and caches
# (man-db's index, which its trigger rebuilds for any package with a man page),
# systemd-analyze's scratch directories, and directories the machine already
# has. Anything else is the package's.
left=$(cd "$OVL/upper" && find . -mindepth 1 \( -type d -empty -o ! -type d \) -printf '%P\n' | sort |
	grep -vE '^(var/lib/dpkg/|var/log/|var/cache/(debconf|apt|man)/|var/lib/systemd/deb-systemd-helper-(enabled|masked)$|tmp/systemd-temporary-)' |
	while read -r p; do [[ -d /$p && -d $OVL/upper/$p ]] || echo "$p"; done)
expect_true "the purge left nothing behind${left:+ (left: $(echo $left))}" test -z "$left"
expect_false "not /var/lib/speebpf either" test -e "$R/var/lib/speebpf"

lab_finish
