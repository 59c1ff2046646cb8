#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A BPF program attached with tc to a veth between two network namespaces
# counts the packets of a ping.
. "$(dirname "$0")/lib.sh"
need_root
need_cmd ip tc bpftool jq nsenter

ping=ping
command -v ping >/dev/null 2>&1 || ping="busybox ping"

obj=$(built_helper tc_count.bpf.o) || exit 1

a=keel-tc-a-$$
b=keel-tc-b-$$
pin=/sys/fs/bpf/keel-test-tc-$$
on_exit "ip netns del $a; ip netns del $b; rm -rf $pin"

check "create namespaces" sh -c "ip netns add $a && ip netns add $b" || exit 1
check "create veth pair" ip link add veth-a netns "$a" type veth peer name veth-b netns "$b" || exit 1
check "configure addresses" sh -c "
	ip -n $a addr add 10.199.0.1/24 dev veth-a &&
	ip -n $b addr add 10.199.0.2/24 dev veth-b &&
	ip -n $a link set lo up && ip -n $b link set lo up &&
	ip -n $a link set veth-a up && ip -n $b link set veth-b up" || exit 1

check "load the program with bpftool" sh -c \
	"mkdir -p $pin && bpftool prog load '$obj' $pin/prog type classifier pinmaps $pin" || exit 1
# nsenter, not "ip netns exec": the latter remounts /sys and hides bpffs.
in_a() {
	nsenter --net="/run/netns/$a" "$@"
}
check "add clsact qdisc on veth-a" in_a tc qdisc add dev veth-a clsact
check "attach to veth-a ingress" \
	in_a tc filter add dev veth-a ingress bpf direct-action pinned "$pin/prog"
note "$(in_a tc filter show dev veth-a ingress | tr '\n' ' ')"

check "ping from $a to $b" ip netns exec "$a" $ping -c 3 -i 0.2 -W 2 10.199.0.2
count=$(bpftool -j map lookup pinned "$pin/pkt_count" key 0 0 0 0 | jq -r '.formatted.value // .value')
case $count in
\[*) count=$(echo "$count" | jq -r 'map(ltrimstr("0x")) | reverse | join("")' | sed 's/^0*//'); count=$((16#${count:-0})) ;;
esac
note "packets counted on veth-a ingress: $count"
check "count is > 0" test "${count:-0}" -gt 0
