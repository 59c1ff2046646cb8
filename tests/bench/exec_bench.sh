#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec benchmark (figures, never asserted), in one boot of the VM harness:
#   tests/vm/run -- tests/bench/exec_bench.sh      (or: make bench)
# Two workloads, each timed by `exec_bench loop`:
#   - fork+exec: EXEC_BENCH_N (500) runs of /bin/true (62 ms each under TCG);
#   - library-heavy start: EXEC_BENCH_PY (40) runs of `python3 -c pass`
#     (the interpreter, libc, libm, libz, libexpat, ld.so: every mapping is
#     checked), plus EXEC_BENCH_LIBS (40) runs of a program linking many
#     shared libraries (keeld --version: libbpf, libelf, libz, libsqlite3,
#     libcrypto, libjansson, libsystemd and their own).
# under three setups, in EXEC_BENCH_ROUNDS (3) rounds of rotating order
# (none, keel, fapolicyd; keel, fapolicyd, none; ...) so that a drift of
# the shared machine hits all alike:
#   - none: no agent;
#   - keel: keeld with only exec running, in enforce mode, after trusting
#     what the workloads run (found by a run in audit mode);
#   - fapolicyd (Debian 1.1.7) enforcing the same policy: trusted programs
#     and shared libraries only, trust from a file list with the same files
#     (path, size, SHA-256), integrity = size; its configuration, rules and
#     database live on tmpfs mounts (the guest's root is the host's, read-only).
# Each setup is checked to refuse an untrusted copy of /bin/true before it
# is timed.  The summary gives each median and keel/none, fapolicyd/none.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd -P)
build=${BUILD:-$top/build}
N=${EXEC_BENCH_N:-500}
PY=${EXEC_BENCH_PY:-40}
LIBS=${EXEC_BENCH_LIBS:-40}
ROUNDS=${EXEC_BENCH_ROUNDS:-3}
BENCH=$build/tests/bench/exec_bench
KEELD=$build/keeld
KEELCTL=$build/keelctl
[ "$(id -u)" -eq 0 ] || { echo "exec bench: skipped: needs root"; exit 0; }
[ "${KEEL_VM:-}" = 1 ] || { echo "exec bench: skipped: run it in the VM harness: tests/vm/run -- $0"; exit 0; }
for f in "$BENCH" "$KEELD" "$KEELCTL"; do
	[ -x "$f" ] || { echo "exec bench: skipped: $f is missing; run make"; exit 0; }
done
PYTHON=$(command -v python3) || { echo "exec bench: skipped: needs python3"; exit 0; }
FAPOLICYD=$(command -v fapolicyd || echo /usr/sbin/fapolicyd)

T=$(mktemp -d "${TMPDIR:-/tmp}/keel-exec-bench.XXXXXX") || exit 1	# removed by cleanup()
PINS=/sys/fs/bpf/keel-bench-$$
export KEEL_SOCKET=$T/keel.sock
keeld_pid= fapo_pid=
cleanup() {
	[ -n "$keeld_pid" ] && { "$KEELCTL" exec mode audit >/dev/null 2>&1; kill "$keeld_pid"; wait "$keeld_pid"; }
	[ -n "$fapo_pid" ] && { kill "$fapo_pid"; wait "$fapo_pid"; }
	for m in /etc/fapolicyd /var/lib/fapolicyd /run/fapolicyd; do umount "$m" 2>/dev/null; done
	rm -rf "$T" "$PINS"
} 2>/dev/null
trap cleanup EXIT

cp /bin/true "$T/untrusted"
workloads=(exec py libs)
declare -A cmd=(
	[exec]="$BENCH loop $N /bin/true"
	[py]="$BENCH loop $PY $PYTHON -c pass"
	[libs]="$BENCH loop $LIBS $KEELD --version"
)
declare -A label=(
	[exec]="fork+exec /bin/true x$N"
	[py]="python3 -c pass x$PY"
	[libs]="keeld --version (many .so) x$LIBS"
)

# --- keel ---------------------------------------------------------------------
cat >"$T/keel.conf" <<CONF
[control]
socket = $KEEL_SOCKET
[bpf]
pin_dir = $PINS
[exec]
trust_db = $T/trust.db
# the guest's root is the host's, over 9p (docs/testing.md)
allow_unstable_fs = 9p
[blk]
enabled = false
[vmnet]
enabled = false
[memh]
enabled = false
[kmod]
enabled = false
CONF

keel_up() {
	"$KEELD" -c "$T/keel.conf" >/dev/null 2>"$T/keeld.err" &
	keeld_pid=$!
	for _ in $(seq 600); do "$KEELCTL" status >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "exec bench: keeld did not start:"; cat "$T/keeld.err"; exit 1
}
keel_down() {
	"$KEELCTL" exec mode audit >/dev/null
	kill "$keeld_pid"; wait "$keeld_pid"; keeld_pid=
}

# what to trust: the workloads, run once in audit mode, say it themselves
keel_up
for w in "${workloads[@]}"; do ${cmd[$w]} >/dev/null; done
for f in "$BENCH" /bin/true "$PYTHON" "$KEELD" "$KEELCTL" /bin/bash /bin/sleep /bin/cat /bin/grep /bin/seq /bin/sort /bin/tr /usr/bin/awk /bin/rm /bin/umount; do
	realpath "$f"; ldd "$f" | grep -o '/[^ ]*' | xargs -r realpath
done >"$T/files"
"$KEELCTL" events --type exec.allow_audit | jq -r .path | grep '^/' >>"$T/files"
sort -u "$T/files" | grep -v "^$T/" >"$T/trusted"
"$KEELCTL" trust add $(cat "$T/trusted") >/dev/null || { echo "exec bench: trust add failed"; exit 1; }
keel_down
echo "exec bench: $(wc -l <"$T/trusted") files trusted for keel and fapolicyd alike"

# --- fapolicyd ----------------------------------------------------------------
have_fapo=0
if [ -x "$FAPOLICYD" ]; then
	for m in /etc/fapolicyd /var/lib/fapolicyd /run/fapolicyd; do
		mkdir -p "$m" 2>/dev/null; mount -t tmpfs -o mode=0755 tmpfs "$m"
	done
	chown fapolicyd:fapolicyd /var/lib/fapolicyd /run/fapolicyd
	fstypes=$(awk '{print $3}' /proc/mounts | sort -u | grep -E '^(9p|ext4|tmpfs|xfs|btrfs|virtiofs)$' | paste -sd,)
	cat >/etc/fapolicyd/fapolicyd.conf <<CONF
permissive = 0
nice_val = 14
q_size = 640
uid = fapolicyd
gid = fapolicyd
do_stat_report = 0
detailed_report = 0
db_max_size = 50
subj_cache_size = 1549
obj_cache_size = 8191
watch_fs = $fstypes
trust = file
integrity = size
syslog_format = rule,dec,perm,auid,pid,exe,:,path,ftype,trust
rpm_sha256_only = 0
allow_filesystem_mark = 0
CONF
	# keel's policy in fapolicyd's words: trusted programs and libraries only
	cat >/etc/fapolicyd/compiled.rules <<'RULES'
deny_audit perm=any pattern=ld_so : all
allow perm=execute all : trust=1
allow perm=open all : ftype=application/x-sharedlib trust=1
deny_audit perm=open all : ftype=application/x-sharedlib
deny_audit perm=execute all : all
allow perm=open all : all
RULES
	mkdir -p /etc/fapolicyd/trust.d /etc/fapolicyd/rules.d
	{
		echo "# AUTOGENERATED FILE VERSION 2"
		while read -r f; do
			echo "$f $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1)"
		done <"$T/trusted"
	} >/etc/fapolicyd/fapolicyd.trust
	have_fapo=1
else
	echo "exec bench: fapolicyd is not installed (deploy/install-deps installs it): no fapolicyd figures"
fi
fapo_up() {
	"$FAPOLICYD" --debug-deny >"$T/fapo.log" 2>&1 &
	fapo_pid=$!
	for _ in $(seq 600); do
		grep -q "Starting to listen for events" "$T/fapo.log" && return 0
		kill -0 "$fapo_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "exec bench: fapolicyd did not start:"; tail -20 "$T/fapo.log"; fapo_pid=; return 1
}
fapo_down() { kill "$fapo_pid"; wait "$fapo_pid"; fapo_pid=; }

# --- the runs -----------------------------------------------------------------
declare -A times
setup_up() {
	case $1 in
	keel) keel_up; "$KEELCTL" exec mode enforce >/dev/null ;;
	fapolicyd) fapo_up || return 1 ;;
	esac
	if "$T/untrusted" 2>/dev/null && [ "$1" != none ]; then
		echo "exec bench: $1 does not refuse an untrusted program: not enforcing"; return 1
	fi
}
setup_down() {
	case $1 in
	keel) keel_down ;;
	fapolicyd) fapo_down ;;
	esac
}
setups=(none keel)
[ "$have_fapo" = 1 ] && setups+=(fapolicyd)
echo "exec bench: $(uname -r), $(nproc) CPUs, $ROUNDS rounds, setups: ${setups[*]}"
for r in $(seq 0 $((ROUNDS - 1))); do
	for i in "${!setups[@]}"; do
		s=${setups[$(((i + r) % ${#setups[@]}))]}
		setup_up "$s" || { setup_down "$s" 2>/dev/null; continue; }
		for w in "${workloads[@]}"; do
			t=$(${cmd[$w]}) || { echo "exec bench: $s: ${cmd[$w]} failed"; t=; }
			[ -n "$t" ] && times[$s.$w]+="$t "
			printf '  round %d %-9s %-32s %s s\n' "$r" "$s" "${label[$w]}" "${t:-failed}"
		done
		setup_down "$s"
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
echo
printf '%-34s %10s %10s %10s %11s %15s\n' workload "none s" "keel s" "fapolicyd s" "keel/none" "fapolicyd/none"
for w in "${workloads[@]}"; do
	n=$(median <<<"${times[none.$w]:-}")
	k=$(median <<<"${times[keel.$w]:-}")
	f=$(median <<<"${times[fapolicyd.$w]:-}")
	awk -v l="${label[$w]}" -v n="$n" -v k="$k" -v f="$f" 'BEGIN {
		printf "%-34s %10s %10s %10s %11s %15s\n", l, n, k, (f == "" ? "-" : f),
			(n > 0 && k != "" ? sprintf("%.3f", k / n) : "-"),
			(n > 0 && f != "" ? sprintf("%.3f", f / n) : "-") }'
done
