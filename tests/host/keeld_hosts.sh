# SPDX-License-Identifier: GPL-2.0-only
# Several "hosts" on one machine for host tests: each a network namespace
# with its own keeld (own control socket, pin directory, events and
# standard error under $KEEL_TMP).  Used by tests/host/vmnet/lib.sh,
# tests/host/vdisk_migrate_lib.sh and tests/host/test_vdisk_owner_keeld.sh.
# Source after tests/integration/lib.sh.
#
#   hosts_init TAG NSTAG      names: host H's namespace is keel-NSTAG<H in
#                             capitals>-$HOSTS_ID (in NS[H]), its pins
#                             /sys/fs/bpf/keel-test-TAG-H-$HOSTS_ID; at exit
#                             the keelds are stopped, the pins and every
#                             namespace hosts_ns_add made are removed
#   hosts_ns_add H...         the namespaces of hosts H..., lo up
#   hosts_veth H1 DEV1 H2 DEV2 [IP1 IP2]
#                             a veth pair from H1's DEV1 to H2's DEV2, up,
#                             with IP1/24 and IP2/24 if given
#   in_ns H CMD...            CMD in H's network namespace (nsenter --net
#                             keeps the mount namespace: bpffs stays
#                             visible, which ip netns exec would hide)
#   hosts_keeld_conf H [LINE...]
#                             writes $KEEL_TMP/H.conf: control socket
#                             $KEEL_TMP/H.sock, memh socket
#                             $KEEL_TMP/H.memh.sock, its pin directory,
#                             host name host-H, exec and blk disabled, then
#                             the LINEs (more sections)
#   hosts_keeld_start H       keeld ($HOSTS_KEELD, default build/keeld) in
#                             H's namespace, events appended to
#                             $KEEL_TMP/H.events, standard error to
#                             $KEEL_TMP/H.err; waits (30 s) until it answers
#                             on its socket; if it exits or does not answer,
#                             prints its standard error and fails
#   hosts_keeld_stop H        SIGTERM, wait; its exit status in KEELD_STATUS
#   kc H ARGS...              keelctl against H's keeld (60 s at most)
#   KEELD_PIDS[H]             keeld's pid (tests pause or kill it)

declare -A NS=() KEELD_PIDS=()
HOSTS_ID=$$
HOSTS_KEELD=${HOSTS_KEELD:-$KEEL_BUILD/keeld}

hosts_init() {
	HOSTS_TAG=$1
	HOSTS_NSTAG=$2
	on_exit _hosts_cleanup
}

_hosts_cleanup() {
	local h
	for h in "${!KEELD_PIDS[@]}"; do
		kill -CONT "${KEELD_PIDS[$h]}" 2>/dev/null
		kill -TERM "${KEELD_PIDS[$h]}" 2>/dev/null
	done
	# a keeld stops its disk servers and detaches its programs on SIGTERM;
	# one that does not within 2 s is killed
	for _ in $(seq 20); do
		for h in "${!KEELD_PIDS[@]}"; do
			kill -0 "${KEELD_PIDS[$h]}" 2>/dev/null || unset "KEELD_PIDS[$h]"
		done
		[ ${#KEELD_PIDS[@]} = 0 ] && break
		sleep 0.1
	done
	for h in "${!KEELD_PIDS[@]}"; do kill -KILL "${KEELD_PIDS[$h]}" 2>/dev/null; done
	wait 2>/dev/null
	for h in "${!NS[@]}"; do
		rm -rf "/sys/fs/bpf/keel-test-$HOSTS_TAG-$h-$HOSTS_ID"
		ip netns del "${NS[$h]}" 2>/dev/null
	done
}

hosts_ns_add() {
	local h
	for h in "$@"; do
		NS[$h]=keel-$HOSTS_NSTAG${h^^}-$HOSTS_ID
		ip netns add "${NS[$h]}" || return 1
		ip -n "${NS[$h]}" link set lo up || return 1
	done
}

hosts_veth() {
	local h1=$1 d1=$2 h2=$3 d2=$4 ip1=${5:-} ip2=${6:-}
	ip -n "${NS[$h1]}" link add "$d1" type veth peer name "$d2" netns "${NS[$h2]}" || return 1
	if [ -n "$ip1" ]; then
		ip -n "${NS[$h1]}" addr add "$ip1/24" dev "$d1" &&
			ip -n "${NS[$h2]}" addr add "$ip2/24" dev "$d2" || return 1
	fi
	ip -n "${NS[$h1]}" link set "$d1" up && ip -n "${NS[$h2]}" link set "$d2" up
}

in_ns() {
	local h=$1
	shift
	nsenter --net="/run/netns/${NS[$h]:-$h}" "$@"
}

# memh's default socket is memh.sock beside the control socket: one file
# for every host here, and the second keeld's memh failed ("another keeld
# serves it")
hosts_keeld_conf() {
	local h=$1
	shift
	cat >"$KEEL_TMP/$h.conf" <<CONF
[control]
socket = $KEEL_TMP/$h.sock
[bpf]
pin_dir = /sys/fs/bpf/keel-test-$HOSTS_TAG-$h-$HOSTS_ID
[keeld]
host = host-$h
[exec]
enabled = false
[blk]
enabled = false
[memh]
socket = $KEEL_TMP/$h.memh.sock
CONF
	[ $# -gt 0 ] && printf '%s\n' "$@" >>"$KEEL_TMP/$h.conf"
	return 0
}

kc() {
	local h=$1
	shift
	KEEL_SOCKET=$KEEL_TMP/$h.sock timeout 60 "$KEEL_BUILD/keelctl" "$@"
}

hosts_keeld_start() {
	local h=$1
	# an external command, not a function, in the background: bash keeps no
	# copy of the caller's stdout open in it
	nsenter --net="/run/netns/${NS[$h]}" "$HOSTS_KEELD" -c "$KEEL_TMP/$h.conf" \
		</dev/null >>"$KEEL_TMP/$h.events" 2>>"$KEEL_TMP/$h.err" &
	KEELD_PIDS[$h]=$!
	for _ in $(seq 1 300); do
		kc "$h" status >/dev/null 2>&1 && return 0
		kill -0 "${KEELD_PIDS[$h]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "  keeld $h did not start:"
	sed 's/^/    | /' "$KEEL_TMP/$h.err"
	return 1
}

hosts_keeld_stop() {
	local h=$1
	[ -n "${KEELD_PIDS[$h]:-}" ] || return 0
	kill -TERM "${KEELD_PIDS[$h]}" 2>/dev/null
	wait "${KEELD_PIDS[$h]}"
	KEELD_STATUS=$?
	unset "KEELD_PIDS[$h]"
}
