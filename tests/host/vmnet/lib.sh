# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests/host/test_vmnet*.sh: two "hosts" as network namespaces,
# each with a bridge, an uplink into a shared fabric, and its own keeld
# (own socket, pin directory, state file: tests/host/keeld_hosts.sh); a
# client namespace on the fabric; QEMU guests with a tap port,
# live-migrated between the hosts.  Source after tests/integration/lib.sh.
#
#   vmnet_topo_up              namespaces, bridges, uplinks, fabric (a hub)
#   vmnet_keeld_conf H [LINE...]  write $KEEL_TMP/H.conf for host H (a or b);
#                              [vmnet] ports is $VMNET_PORTS if set
#   vmnet_keeld_start H        start keeld for host H inside its namespace
#   vmnet_keeld_stop H         SIGTERM and wait
#   kc H ARGS...               keelctl against host H's keeld
#   wl_state H IP              the state of IP in H's whitelist, or "none"
#   qemu_start NAME H TAP [INCOMING]  a guest without OS, NIC $VM_MAC
#   hmp NAME CMD               a human monitor command to guest NAME
#   migrate_start NAME URI     start a migration of guest NAME, resending if lost
#   wait_until SECS CMD...     retry CMD every 50 ms until it succeeds
#   in_ns H CMD...             run CMD in host H's network namespace
#   ev_any/ev_all/ev_set/ev_count H TYPE FILTER  H's events of TYPE against a jq FILTER
#   kc_jq H FILTER ARGS...     keelctl ARGS' JSON against a jq FILTER
#   jq_true FILTER             JSON on stdin against a jq FILTER

. "$KEEL_TOP/tests/host/keeld_hosts.sh"

VMNET_ID=$HOSTS_ID
NS_A=keel-vmA-$VMNET_ID
NS_B=keel-vmB-$VMNET_ID
NS_F=keel-vmF-$VMNET_ID
NS_C=keel-vmC-$VMNET_ID
VM_MAC=52:54:00:77:00:10
VM_IP=10.77.0.10
CLIENT_IP=10.77.0.1
FRAME=$KEEL_TOP/tests/host/vmnet/frame.py
VMNET_KEELD=${KEEL_VMNET_KEELD:-$KEEL_BUILD/keeld}	# another keeld binary to test
declare -A QEMU_PIDS=()

ns_of() {
	case $1 in
	a) echo "$NS_A" ;;
	b) echo "$NS_B" ;;
	f) echo "$NS_F" ;;
	c) echo "$NS_C" ;;
	*) echo "$1" ;;
	esac
}

# the QEMUs go first: keeld_hosts.sh's exit action (keelds, pins,
# namespaces), registered before this one, runs after it
_vmnet_cleanup() {
	local k
	for k in "${!QEMU_PIDS[@]}"; do kill -KILL "${QEMU_PIDS[$k]}" 2>/dev/null; done
}

vmnet_topo_up() {
	hosts_init vmnet vm
	on_exit _vmnet_cleanup
	mkdir -p "$KEEL_TMP/inv"
	local h
	hosts_ns_add a b f c || return 1
	# the fabric: a bridge that forgets at once, so it floods like a hub and
	# both hosts' uplinks see the client's traffic for the VM
	ip -n "$NS_F" link add brF type bridge ageing_time 0 || return 1
	ip -n "$NS_F" link set brF up
	for h in a b; do
		local ns
		ns=$(ns_of $h)
		ip -n "$ns" link set lo up
		ip -n "$ns" link add br0 type bridge || return 1
		ip -n "$ns" link add "up$h" type veth peer name "f$h" netns "$NS_F" || return 1
		ip -n "$ns" link set "up$h" master br0 up
		ip -n "$ns" link set br0 up
		ip -n "$NS_F" link set "f$h" master brF up
	done
	ip -n "$NS_C" link set lo up
	ip -n "$NS_C" link add cl type veth peer name fc netns "$NS_F" || return 1
	ip -n "$NS_F" link set fc master brF up
	ip -n "$NS_C" addr add "$CLIENT_IP/24" dev cl
	ip -n "$NS_C" link set cl up
	ip -n "$NS_C" neigh replace "$VM_IP" lladdr "$VM_MAC" dev cl nud permanent
}

vmnet_keeld_conf() {
	local h=$1
	shift
	hosts_keeld_conf "$h" "[kmod]" "enabled = false" "[vmnet]" "uplink = up$h" \
		"ports = ${VMNET_PORTS:-tap*,vnet*}" "inventory_dir = $KEEL_TMP/inv" \
		"state_file = $KEEL_TMP/$h.state" "grace_ms = 300" "$@"
}

vmnet_keeld_start() { HOSTS_KEELD=$VMNET_KEELD hosts_keeld_start "$1"; }

vmnet_keeld_stop() { hosts_keeld_stop "$1"; }

wl_state() {
	local s
	s=$(kc "$1" eni list --json 2>/dev/null | jq -r --arg ip "$2" '.ips[] | select(.ip == $ip) | .state')
	echo "${s:-none}"
}

wl_field() {
	kc "$1" eni list --json 2>/dev/null | jq -r --arg ip "$2" ".ips[] | select(.ip == \$ip) | .$3"
}

# lib.sh has a quiet wait_until; this one ends with a last try whose output shows
wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	"$@"
}

qemu_start() {
	local name=$1 h=$2 tap=$3 incoming=${4:-}
	local args=(-machine pc -m 64 -display none -nodefaults -no-user-config
		-accel tcg -smp 1
		-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
		-device "virtio-net-pci,netdev=n0,mac=$VM_MAC"
		-monitor "unix:$KEEL_TMP/$name.mon,server=on,wait=off"
		-pidfile "$KEEL_TMP/$name.pid")
	[ -n "$incoming" ] && args+=(-incoming "$incoming")
	nsenter --net="/run/netns/$(ns_of "$h")" qemu-system-x86_64 "${args[@]}" \
		</dev/null >"$KEEL_TMP/$name.qemu.log" 2>&1 &
	QEMU_PIDS[$name]=$!
	wait_until 10 test -S "$KEEL_TMP/$name.mon" || return 1
	wait_until 5 ip -n "$(ns_of "$h")" link show "$tap" || return 1
	ip -n "$(ns_of "$h")" link set "$tap" master br0 up
}

hmp() {
	echo "$2" | socat -t 1 - "UNIX-CONNECT:$KEEL_TMP/$1.mon" 2>/dev/null | tr -d '\r'
}

# send "migrate URI" to guest NAME until QEMU reports a migration: under
# load a monitor command can be lost (socat -t 1), and then none starts
migrate_start() {
	local try
	for try in 1 2 3; do
		hmp "$1" "migrate $2" >/dev/null
		wait_until 5 sh -c "echo 'info migrate' | socat -t 1 - 'UNIX-CONNECT:$KEEL_TMP/$1.mon' 2>/dev/null | grep -q 'Migration status: \(active\|completed\|device\|pre-switchover\|setup\)'" >/dev/null && return 0
	done
	return 1
}

migrated() {
	hmp "$1" "info migrate" | grep -q "Migration status: completed"
}

qemu_stop() {
	[ -n "${QEMU_PIDS[$1]:-}" ] || return 0
	kill -KILL "${QEMU_PIDS[$1]}" 2>/dev/null
	wait "${QEMU_PIDS[$1]}" 2>/dev/null
	unset "QEMU_PIDS[$1]"
}

# The checks below fail when there is nothing to check.  (jq 1.6 -e exits 0
# on empty input, so "grep ... | jq -e 'select(...) | ...'" passes when no
# event came at all, and "keelctl ... | jq -e" when keelctl printed
# nothing.)

# the events keeld H emitted of TYPE, one JSON object per line
events_in() {
	grep -hF "\"type\":\"$2\"" "$KEEL_TMP/$1.events" 2>/dev/null
}

# jq_true FILTER: the JSON documents on stdin, FILTER applied to each,
# yield at least one value and every value is true
jq_true() {
	jq -s -e "[.[] | $1] | length > 0 and all" >/dev/null
}

# ev_any H TYPE FILTER: some event of TYPE from keeld H satisfies FILTER
ev_any() {
	events_in "$1" "$2" | jq -s -e "any(.[]; $3)" >/dev/null
}

# ev_all H TYPE FILTER: there are events of TYPE from H and all satisfy FILTER
ev_all() {
	events_in "$1" "$2" | jq -s -e "length > 0 and all(.[]; $3)" >/dev/null
}

# ev_set H TYPE FILTER: FILTER on the array of H's events of TYPE is true
# (an empty array, when none came, must fail FILTER)
ev_set() {
	events_in "$1" "$2" | jq -s -e "$3" >/dev/null
}

# ev_count H TYPE [FILTER]: how many events of TYPE from H (satisfying FILTER)
ev_count() {
	events_in "$1" "$2" | jq -s "[.[] | select(${3:-true})] | length"
}

# kc_jq H FILTER ARGS...: "keelctl ARGS" against H succeeds, prints one
# JSON document, and FILTER on it yields values that are all true (at least
# one: a select() that matches nothing fails)
kc_jq() {
	local h=$1 filter=$2 out
	shift 2
	out=$(kc "$h" "$@") || return 1
	printf '%s\n' "$out" | jq -s -e "length == 1 and ([.[0] | $filter] | length > 0 and all)" >/dev/null
}
