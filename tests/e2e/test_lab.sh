#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck source-path=SCRIPTDIR
# The checks are functions run through expect_true/expect_false:
# shellcheck disable=SC2317
#
# test_lab.sh - the lab tests itself, without speebpf: every host reaches every
# listener, closed ports are refused, the expectations cannot pass vacuously,
# crafted frames get the answers the firewall tests will later take away, a
# stream notices a stall, and a lab leaves nothing behind, however it ends.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

lab_init lab
lab_spe_topology
lab_spe_listeners

echo "# every host reaches every other host's listeners, over IPv4 and IPv6"
for src in "${LAB_HOSTS[@]}"; do
	for dst in "${SPE_HOSTS[@]}" ext; do
		[[ $src == "$dst" ]] && continue
		for port in $(lab_spe_ports "$dst" | tr , ' '); do
			expect_connect "$src" "$dst" "$port"
			expect_connect "$src" "$dst/6" "$port"
		done
	done
done

echo "# every ext service address answers, and names resolve through the lab's hosts files"
for s in "${_SPE_EXT_SERVICES[@]}"; do
	read -r name _ v6 <<<"$s"
	expect_connect ih1 "$name" 443
	if [[ -n $v6 ]]; then expect_connect ih1 "$name/6" 443; fi
done
resolves_to() {	# HOST NAME ADDR: getent in HOST gives ADDR for NAME, within 3 s
	local out i
	for i in $(seq 1 30); do
		out=$(lab_exec "$1" getent ahostsv4 "$2") || out=""
		[[ $'\n'$out == *$'\n'"$3 "* ]] && return 0
		((i < 30)) && sleep 0.1
	done
	return 1
}
for h in "${SPE_HOSTS[@]}"; do
	expect_true "$h resolves my.mailstore.com to $SPE_MAILSTORE" \
		resolves_to "$h" my.mailstore.com "$SPE_MAILSTORE"
done
expect_connect mgmt1 my.mailstore.com 443
expect_connect ih1 exchange.example.com 443
expect_false "client does not know my.mailstore.com (not an SPE host)" \
	lab_exec client getent ahostsv4 my.mailstore.com
lab_del_hosts_entry cas2 my.mailstore.com
expect_false "after lab_del_hosts_entry, cas2 no longer knows my.mailstore.com" \
	lab_exec cas2 getent ahostsv4 my.mailstore.com
lab_add_hosts_entry cas2 my.mailstore.com 198.19.2.46
expect_true "after lab_add_hosts_entry, cas2 resolves it to the new address" \
	resolves_to cas2 my.mailstore.com 198.19.2.46
lab_del_hosts_entry cas2 my.mailstore.com
lab_add_hosts_entry cas2 my.mailstore.com "$SPE_MAILSTORE"

sees_own_interfaces() { [[ $(lab_exec "$1" ls /sys/class/net | tr '\n' ' ') == "eth0 lo " ]]; }
in_own_cgroup() { [[ $(lab_exec "$1" cat /proc/self/cgroup) == *"0::${LAB_CGROUP#"$LAB_CG2"}/$1" ]]; }
any_default_route() {
	local h
	for h in "${LAB_HOSTS[@]}"; do
		[[ -n $(lab_exec "$h" ip route show default) ]] && return 0
		[[ -n $(lab_exec "$h" ip -6 route show default) ]] && return 0
	done
	return 1
}
expect_true "a lab host sees its own interfaces in /sys/class/net" sees_own_interfaces cas1
expect_true "a lab host sees bpffs and the cgroup2 mount" \
	lab_exec cas1 sh -c "mountpoint -q /sys/fs/bpf && test -d '$(lab_cgroup cas1)'"
expect_true "a process started in cas1 is in cas1's cgroup" in_own_cgroup cas1
expect_false "no lab host has a default route" any_default_route
expect_true "the switch namespace holds the bridge and a port per host" \
	lab_switch_exec ip link show "$(lab_switch_port ext)"
# lab_speebpf keeps speebpf off the root cgroup and the default pin dir.
speebpf_gets() {	# WANT ARGS...: lab_speebpf mgmt1 ARGS... runs speebpf with WANT
	local want=$1 SPEEBPF
	shift
	SPEEBPF=$(command -v echo)
	[[ $(lab_speebpf mgmt1 "$@") == "$want" ]]
}
expect_true "lab_speebpf gives apply the host's cgroup and pin dir" \
	speebpf_gets "apply -c x --cgroup $(lab_cgroup mgmt1) --pin-dir $(lab_pin_dir mgmt1)" apply -c x
expect_true "lab_speebpf keeps an explicit --cgroup" \
	speebpf_gets "run --cgroup /c -c x --pin-dir $(lab_pin_dir mgmt1)" run --cgroup /c -c x

echo "# closed ports are refused, UDP answers and refuses"
expect_closed client mgmt1 9
expect_closed client mgmt1/6 9
expect_refused admpc cas1 8470
lab_listen mgmt1 udp-mgmt1 --udp :: 9000
lab_listen ext udp-ext --udp :: 9000
expect_udp_reply cas1 mgmt1 9000
expect_udp_reply cas1 mgmt1/6 9000
# ext answers from the address it was asked at, whichever of its many.
expect_udp_reply cas1 mail 9000
expect_udp_reply cas1 exchange/6 9000
expect_udp_closed cas1 mgmt1 9001
expect_udp_closed cas1 mgmt1/6 9001

echo "# the expectations cannot pass vacuously"
printf '#!/bin/sh\nexit 2\n' >"$LAB_DIR/exit2"
chmod +x "$LAB_DIR/exit2"
# Each runs in a subshell, which keeps its FAIL out of this script's count.
negative() {	# DESC EXPECTATION...: the expectation must report FAIL
	local desc=$1 out
	shift
	out=$("$@"; echo "failures=$LAB_FAIL")
	if [[ $out == FAIL* && $out == *"failures=$((LAB_FAIL + 1))" ]]; then
		lab_ok "$desc reports FAIL"
	else
		lab_fail "$desc reports FAIL (got: ${out//$'\n'/; })"
	fi
}
negative "expect_refused of an open port" expect_refused cas1 mgmt1 8471
negative "expect_refused of an open v6 port" expect_refused cas1 mgmt1/6 8471
negative "expect_blocked of a closed port (a RST is no block)" expect_blocked client mgmt1 9
negative "expect_connect of a closed port" expect_connect cas1 mgmt1 9
negative "expect_closed of an open port" expect_closed cas1 mgmt1 8471
with_probe() {	# PROBE CMD...: CMD with another probe binary
	local SPEEPROBE=$1
	shift
	"$@"
}
negative "expect_refused with no probe binary" with_probe /nonexistent expect_refused cas1 mgmt1 9
negative "expect_refused with a probe that only exits 1" with_probe /bin/false expect_refused cas1 mgmt1 9
negative "expect_blocked with a probe that only exits 2" with_probe "$LAB_DIR/exit2" expect_blocked cas1 mgmt1 9
negative "expect_refused when the probe fails otherwise (a bad port)" expect_refused cas1 mgmt1 0
negative "expect_udp_blocked of an answering port" expect_udp_blocked cas1 mgmt1 9000
negative "expect_udp_closed of an answering port" expect_udp_closed cas1 mgmt1 9000
negative "expect_true of a failing command" expect_true "false is true" false
negative "expect_false of a succeeding command" expect_false "true is false" true

echo "# crafted frames get answers (what the firewall tests will take away)"
mac_cas1=$(lab_mac cas1) mac_mgmt1=$(lab_mac mgmt1) mac_client=$(lab_mac client)
ip_cas1=$(lab_ip cas1) ip_mgmt1=$(lab_ip mgmt1) ip_client=$(lab_ip client)
ip6_cas1=$(lab_ip cas1 6) ip6_mgmt1=$(lab_ip mgmt1 6)

expect_frame answer cas1 "an ARP request from cas1 is answered by mgmt1" cas1 \
	"$(frame_arp_request "$mac_cas1" "$ip_cas1" "$ip_mgmt1")" \
	0806@12 0002@20 "$(hex_mac "$mac_mgmt1")$(hex_ip4 "$ip_mgmt1")@22"

icmp=$(pkt_icmp4_echo 0x5e01 1 "$(hex_str speebpf-lab)")
expect_frame answer cas1 "an ICMP echo from cas1 is answered by mgmt1" cas1 \
	"$(frame_eth "$mac_mgmt1" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 1 "$icmp")")" \
	0800@12 01@23 "$(hex_ip4 "$ip_mgmt1")$(hex_ip4 "$ip_cas1")@26" 00@34 5e010001@38

icmp6=$(pkt_icmp6_echo "$ip6_cas1" "$ip6_mgmt1" 0x5e02 1 "$(hex_str speebpf-lab)")
expect_frame answer cas1 "an ICMPv6 echo from cas1 is answered by mgmt1" cas1 \
	"$(frame_eth "$mac_mgmt1" "$mac_cas1" 86dd "$(pkt_ipv6 "$ip6_cas1" "$ip6_mgmt1" 58 "$icmp6")")" \
	86dd@12 3a@20 81@54 5e020001@58

syn=$(seg_tcp "$ip_cas1" "$ip_mgmt1" 40001 8471 1000 0 S)
expect_frame answer cas1 "a crafted SYN to mgmt1:8471 gets a SYN-ACK" cas1 \
	"$(frame_eth "$mac_mgmt1" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 6 "$syn")")" \
	0800@12 06@23 "$(hex_u16 8471)$(hex_u16 40001)@34" 12@47

syn6=$(seg_tcp "$ip6_cas1" "$ip6_mgmt1" 40002 8471 1000 0 S)
expect_frame answer cas1 "a crafted IPv6 SYN to mgmt1:8471 gets a SYN-ACK" cas1 \
	"$(frame_eth "$mac_mgmt1" "$mac_cas1" 86dd "$(pkt_ipv6 "$ip6_cas1" "$ip6_mgmt1" 6 "$syn6")")" \
	86dd@12 06@20 "$(hex_u16 8471)$(hex_u16 40002)@54" 12@67

ack=$(seg_tcp "$ip_client" "$ip_mgmt1" 40003 8471 5000 77777 A)
expect_frame answer client "a spoofed ACK from client to mgmt1:8471 gets a RST" client \
	"$(frame_eth "$mac_mgmt1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "$ack")")" \
	0800@12 "$(hex_u16 8471)$(hex_u16 40003)@34" "$(hex_u32 77777)@38" 04@47

# A tiny first fragment: 8 bytes of TCP header (ports and sequence, no flags);
# the flags come in the second. Reassembled, it is a SYN.
syn=$(seg_tcp "$ip_client" "$ip_mgmt1" 40004 8471 1000 0 S)
frag1=$(frame_eth "$mac_mgmt1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "${syn:0:16}" 0x2000 777)")
frag2=$(frame_eth "$mac_mgmt1" "$mac_client" 0800 "$(pkt_ipv4 "$ip_client" "$ip_mgmt1" 6 "${syn:16}" 1 777)")
lab_exec client "$SPEEPROBE" send-frame eth0 "$frag1" >/dev/null
expect_frame answer client "a SYN in a tiny first fragment, reassembled, gets a SYN-ACK" client "$frag2" \
	0800@12 "$(hex_u16 8471)$(hex_u16 40004)@34" 12@47

expect_frame answer mgmt1 "a VLAN-tagged frame reaches mgmt1's eth0 with its tag" cas1 \
	"$(frame_vlan "$mac_mgmt1" "$mac_cas1" 7 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 1 "$icmp")")" \
	8100@12 0007@14 0800@16

# The probe's own refusals of bad input.
expect_false "send-frame rejects a frame that is not hex" lab_exec cas1 "$SPEEPROBE" send-frame eth0 zz
expect_false "watch fails on an interface that does not exist" \
	lab_exec cas1 "$SPEEPROBE" watch nosuch0 --timeout-ms 100

echo "# a long-lived stream is checked byte by byte, and a stall is noticed"
lab_listen ih1 echo-ih1 :: 9100 --echo
lab_listen ih1 close-ih1 :: 9101
# Byte for byte, not "without retransmissions": on a busy 2-core machine the
# kernel may retransmit with nothing lost on the wire, and that is its timing.
expect_true "a 2 s stream cas1 -> ih1 comes back intact" \
	lab_exec cas1 "$SPEEPROBE" stream "$(lab_ip ih1)" 9100 --seconds 2 --rate-kbps 4000
expect_true "a 1 s IPv6 stream cas1 -> ih1 comes back intact" \
	lab_exec cas1 "$SPEEPROBE" stream "$(lab_ip ih1 6)" 9100 --seconds 1 --rate-kbps 4000
expect_false "a stream to a listener that does not echo fails" \
	lab_exec cas1 "$SPEEPROBE" stream "$(lab_ip ih1)" 9101 --seconds 1
lab_spawn cas2 long "$SPEEPROBE" stream "$(lab_ip ih1)" 9100 --seconds 60 --rate-kbps 2000
lab_sleep 1
rc=0
lab_stop long || rc=$?
if ((rc == 0)) && grep -q '^stream ok' "$(lab_spawn_log long)"; then
	lab_ok "a long stream stopped early by lab_stop drains and reports intact"
else
	lab_fail "a long stream stopped early by lab_stop drains and reports intact (exit $rc: $(cat "$(lab_spawn_log long)"))"
fi
lab_spawn cas1 stall "$SPEEPROBE" stream "$(lab_ip ih1)" 9100 --seconds 3 --stall-ms 500
lab_sleep 0.5
ip -n "$LAB_SWITCH" link set "$(lab_switch_port ih1)" down	# every packet to ih1 is lost
lab_sleep 1
ip -n "$LAB_SWITCH" link set "$(lab_switch_port ih1)" up
rc=0
lab_wait stall 10 || rc=$?
if ((rc == 5)) && grep -q stalled "$(lab_spawn_log stall)"; then
	lab_ok "a stream that loses packets for 1 s reports a stall (exit 5)"
else
	lab_fail "a stream that loses packets for 1 s reports a stall (exit $rc: $(cat "$(lab_spawn_log stall)"))"
fi

if command -v dnsmasq >/dev/null; then
	echo "# the lab DNS answers, and follows changes"
	lab_dns_start ext "$SPE_DNS" "$(lab_ip dns 6)"
	lab_dns_set moving.example.org 198.19.2.25
	expect_true "cas1 resolves moving.example.org through the lab DNS" \
		resolves_to cas1 moving.example.org 198.19.2.25
	lab_dns_set moving.example.org 198.19.2.44
	expect_true "after a change, cas1 resolves it to the new address" \
		resolves_to cas1 moving.example.org 198.19.2.44
	expect_udp_reply client dns 53 --send-hex \
		"5e5e01000001000000000000066d6f76696e67076578616d706c65036f72670000010001"
else
	echo "# (no dnsmasq: the lab DNS is not tested)"
fi

if command -v clang >/dev/null && command -v bpftool >/dev/null; then
	echo "# the lab carries what speebpf attaches: XDP on a host's eth0, cgroup/skb on its cgroup"
	# Stand-ins for speebpf: an XDP program that drops TCP to port 8471, and
	# a cgroup egress program that refuses everything.
	cat >"$LAB_DIR/standin.bpf.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#define SEC(name) __attribute__((section(name), used))

SEC("xdp") int drop_8471(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcphdr *tcp = data + sizeof(*eth) + sizeof(*ip);

	if ((void *)(tcp + 1) > end || eth->h_proto != __builtin_bswap16(ETH_P_IP) ||
	    ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	return tcp->dest == __builtin_bswap16(8471) ? XDP_DROP : XDP_PASS;
}

SEC("cgroup_skb/egress") int deny_all(struct __sk_buff *skb)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
EOF
	clang -O2 -g -target bpf -I"/usr/include/$(gcc -dumpmachine)" \
		-c "$LAB_DIR/standin.bpf.c" -o "$LAB_DIR/standin.bpf.o"
	ip -n "$(lab_netns mgmt1)" link set dev eth0 xdpdrv obj "$LAB_DIR/standin.bpf.o" sec xdp
	expect_blocked cas1 mgmt1 8471
	expect_refused cas2 mgmt1 8471
	expect_connect cas1 mgmt1 8470
	expect_connect cas1 mgmt1/6 8471
	syn=$(seg_tcp "$ip_cas1" "$ip_mgmt1" 40005 8471 1000 0 S)
	expect_frame silence cas1 "under XDP, a crafted SYN to mgmt1:8471 gets no answer" cas1 \
		"$(frame_eth "$mac_mgmt1" "$mac_cas1" 0800 "$(pkt_ipv4 "$ip_cas1" "$ip_mgmt1" 6 "$syn")")" \
		0800@12 06@23 "$(hex_u16 8471)$(hex_u16 40005)@34"
	ip -n "$(lab_netns mgmt1)" link set dev eth0 xdpdrv off
	expect_connect cas1 mgmt1 8471

	pin=$(lab_pin_dir cas2)
	mkdir -p "$pin"
	bpftool prog loadall "$LAB_DIR/standin.bpf.o" "$pin"
	bpftool cgroup attach "$(lab_cgroup cas2)" egress pinned "$pin/deny_all"
	expect_udp_blocked cas2 mgmt1 9000
	expect_refused cas2 mgmt1 8471
	_lab_probe cas2 connect "$ip_mgmt1" 8471 --timeout-ms 1000
	echo "   (a TCP connect under a cgroup egress drop: $_P_OUT)"
	expect_connect cas1 mgmt1 8471
	bpftool cgroup detach "$(lab_cgroup cas2)" egress pinned "$pin/deny_all"
	expect_connect cas2 mgmt1 8471
else
	echo "# (no clang or bpftool: XDP and cgroup programs in the lab are not tested)"
fi

echo "# a lab leaves nothing behind, however it ends"
# A child lab, in each way a script can end; it tells its id and a pid.
cat >"$LAB_DIR/child.sh" <<EOF
#!/bin/bash
set -euo pipefail
. '$LAB_SRC/lib.sh'
lab_init child
echo "\$LAB_ID" >"\$1.id"
lab_host a 198.18.7.1 fd00:5e::701
lab_host b 198.18.7.2 fd00:5e::702
lab_listen b listen :: 7000 --echo
lab_spawn a stream "\$SPEEPROBE" stream 198.18.7.2 7000 --seconds 30
mkdir "\$(lab_pin_dir a)"
lab_on_cleanup lab_exec a sh -c "ls /sys/class/net >'\$1.hook'"	# runs while the lab stands
lab_exec a sleep 60 &	# a process lab_spawn does not know, in a's cgroup
echo "\$(lab_spawn_pid listen)" >"\$1.pid"
case \$2 in
pass) expect_connect a b 7000; lab_finish ;;
fail) expect_connect a b 7001; lab_finish ;;
none) lab_finish ;;
error) false ;;
*) touch "\$1.ready"; lab_sleep 30 ;;
esac
EOF
child() {	# MODE [SIGNAL] EXPECTED_STATUS
	local mode=$1 sig=$2 want=$3 base=$LAB_DIR/child-$1 pid rc=0 i id left
	env --default-signal=INT bash "$LAB_DIR/child.sh" "$base" "$mode" >"$base.out" 2>&1 &
	pid=$!
	if [[ -n $sig ]]; then
		for i in $(seq 1 100); do [[ -e $base.ready ]] && break; sleep 0.05; done
		kill "-$sig" "$pid"
	fi
	for _ in $(seq 1 200); do _lab_alive "$pid" || break; sleep 0.05; done
	_lab_alive "$pid" && kill -KILL "$pid"
	wait "$pid" || rc=$?
	id=$(cat "$base.id" 2>/dev/null || echo none)
	left=$(lab_leftovers "$id")
	if [[ -e $base.pid ]] && _lab_alive "$(cat "$base.pid")"; then left+=" listener $(cat "$base.pid")"; fi
	[[ $(cat "$base.hook" 2>/dev/null) == *eth0* ]] || left+=" (the cleanup hook did not run in the lab)"
	if ((rc == want)) && [[ $id != none && -z $left ]]; then
		lab_ok "a child lab that ends by '$mode${sig:+ (SIG$sig)}' exits $rc, runs its hook, leaves nothing"
	else
		lab_fail "a child lab that ends by '$mode${sig:+ (SIG$sig)}' exits $want and leaves nothing (exit $rc, id $id, left: ${left:-nothing}; $(tail -n 3 "$base.out" | tr '\n' ' '))"
	fi
}
child pass "" 0
child fail "" 1
child none "" 1
child error "" 1
child interrupt INT 130
child terminate TERM 143
# SIGKILL leaves no chance to clean up: what is left must be found and reaped.
base=$LAB_DIR/child-kill
# (In a session of its own, so that its non-lab leftovers -- the script's
# own sleep -- can be ended as a group afterwards.)
setsid bash "$LAB_DIR/child.sh" "$base" kill >"$base.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [[ -e $base.ready ]] && break; sleep 0.05; done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
id=$(cat "$base.id")
left=$(lab_leftovers "$id")
if [[ $left == *"namespace spl-$id-a"* && $left == *"cgroup "* && $left == *process* ]]; then
	lab_ok "a SIGKILLed child lab is found by lab_leftovers"
else
	lab_fail "a SIGKILLed child lab is found by lab_leftovers (left: ${left:-nothing})"
fi
expect_true "lab_reap removes the rest of a SIGKILLed child lab" lab_reap "$id"
kill -KILL -- "-$pid" 2>/dev/null || true
if grep -q '^-- child: 1 expectations, 0 ok, 1 failed' "$LAB_DIR/child-fail.out"; then
	lab_ok "lab_finish prints the summary of a failed run"
else
	lab_fail "lab_finish prints the summary of a failed run ($(cat "$LAB_DIR/child-fail.out"))"
fi

lab_finish
