# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for tests/integration/test_*.sh.  Source it first:
#
#	. "$(dirname "$0")/lib.sh"
#
# A test is a bash script run by tests/integration/run as root, normally in
# the VM harness (tests/vm/run), with the checkout's top directory as its
# working directory.  It exits 0 on success, 77 to be skipped (use skip),
# anything else on failure.  Print every check you make with `check`, so a
# failure in a log says what was expected.
#
#   KEEL_TOP, KEEL_BUILD   the checkout and its build/ directory
#   KEEL_TMP               a fresh directory, removed when the test exits
#   need_root              skip unless running as root
#   need_vm                skip unless inside tests/vm/run (KEEL_VM=1)
#   need_cmd CMD...        skip unless every CMD is in PATH
#   skip REASON...         print the reason and exit 77
#   check WHAT CMD [ARG...]
#                          run CMD; print "  ok: WHAT" or "  FAILED: WHAT"
#                          followed by CMD's output; a failed check makes
#                          the test fail when it exits (it goes on running)
#   check_eq WHAT EXPECTED ACTUAL
#                          like check, comparing two strings
#   check_drops WHAT N DELIVERED DROPPED TOTAL
#                          a ring buffer filled with N records of WHAT:
#                          some were dropped, DELIVERED + DROPPED account
#                          for all N, and TOTAL (the last drop event's)
#                          covers DROPPED
#   die WHAT...            print "  FAILED: WHAT" and exit 1 at once
#   note TEXT...           print "  # TEXT" (information, not a check)
#   on_exit CMD...         run CMD (with eval) when the test exits, last
#                          registered first; use it to undo setup
#   unload_keel_ko         unload keel.ko if it is loaded; processes still
#                          holding /dev/keel or a keel memory handle (left
#                          by an earlier test that was killed) are killed
#                          first; dies naming the holders if it cannot

set -u

KEEL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
KEEL_BUILD=${KEEL_BUILD:-$KEEL_TOP/build}
# keel.ko for the running kernel (make kmod builds one per kernel the tests boot)
KEEL_KO=$KEEL_BUILD/kmod/$(uname -r)/keel.ko
export KEEL_TOP KEEL_BUILD
cd "$KEEL_TOP" || exit 1

_keel_failed=0
_keel_on_exit=()
KEEL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/keel-test.XXXXXX") || exit 1

_keel_exit() {
	local rc=$? i
	for ((i = ${#_keel_on_exit[@]} - 1; i >= 0; i--)); do
		eval "${_keel_on_exit[i]}" >/dev/null 2>&1
	done
	rm -rf "$KEEL_TMP"
	if [ "$rc" -eq 0 ] && [ "$_keel_failed" -ne 0 ]; then
		rc=1
	fi
	exit "$rc"
}
trap _keel_exit EXIT

on_exit() {
	_keel_on_exit+=("$*")
}

# Pids whose descriptors or mappings reach keel.ko's files.
_keel_ko_holders() {
	local f pid
	for f in /proc/[0-9]*/fd/* /proc/[0-9]*/map_files/*; do
		case $(readlink "$f" 2>/dev/null) in
		/dev/keel | *keel-memh*)
			pid=${f#/proc/}
			echo "${pid%%/*}" ;;
		esac
	done 2>/dev/null | sort -un
}

unload_keel_ko() {
	local i pids=
	for i in $(seq 30); do
		grep -q '^keel ' /proc/modules || return 0
		rmmod keel 2>/dev/null && return 0
		pids=$(_keel_ko_holders | grep -vx "$$")
		if [ -n "$pids" ]; then
			note "keel.ko is held by: $(for p in $pids; do
				printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done); killing them"
			kill -9 $pids 2>/dev/null
		fi
		sleep 1
	done
	for p in $pids; do
		note "kernel stack of $p: $(tr '\n' ' ' </proc/"$p"/stack 2>/dev/null)"
	done
	die "cannot unload keel.ko (refcnt $(cat /sys/module/keel/refcnt 2>/dev/null)) after 30 s"
}

note() {
	echo "  # $*"
}

skip() {
	echo "  skipped: $*"
	if [ -n "${KEEL_TEST_SKIP_FILE:-}" ]; then
		echo "$*" >"$KEEL_TEST_SKIP_FILE"
	fi
	exit 77
}

die() {
	echo "  FAILED: $*"
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

need_vm() {
	[ "${KEEL_VM:-}" = 1 ] ||
		skip "needs the VM harness (run: tests/vm/run -- tests/integration/run)"
}

# need_keel_ko: skip where modules cannot be loaded; build keel.ko for the
# running kernel when it is missing; set $ko (its path) and $kver; skip when
# the module found was built for another kernel.
need_keel_ko() {
	[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 1 ] &&
		skip "module loading is disabled on this kernel"
	ko=$KEEL_KO
	kver=$(uname -r)
	[ -f "$ko" ] || make -s -C "$KEEL_TOP" kmod KVER="$kver" >"$KEEL_TMP/make.log" 2>&1 ||
		{ cat "$KEEL_TMP/make.log"; die "make kmod"; }
	[ "$(modinfo -F vermagic "$ko" | awk '{ print $1 }')" = "$kver" ] ||
		skip "keel.ko is not built for the running kernel $kver"
}

# built_helper NAME: print the path of a program the tests run, which make
# builds into build/tests/integration/ (mk/test_helpers.mk); fails, naming
# the command that builds it, when it is missing or older than its source.
#   bin=$(built_helper exec_attack_helper) || exit 1
built_helper() {
	local bin=$KEEL_BUILD/tests/integration/$1 src
	src=$(find "$KEEL_TOP/tests/integration" -name "${1%.bpf.o}.*c" -print -quit)
	if [ ! -e "$bin" ]; then
		echo "  FAILED: $bin is missing: run make" >&2
		return 1
	fi
	if [ -n "$src" ] && [ "$src" -nt "$bin" ]; then
		echo "  FAILED: $bin is older than $src: run make" >&2
		return 1
	fi
	echo "$bin"
}

# wait_until SECS CMD...: retry CMD (quietly) every 50 ms until it succeeds;
# fails when SECS seconds went by first
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.05
	done
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (not in PATH)"
	done
}

check() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "  ok: $what"
		return 0
	fi
	echo "  FAILED: $what (exit status $rc: $*)"
	[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    | /'
	_keel_failed=$((_keel_failed + 1))
	return 1
}

check_eq() {
	if [ "$2" = "$3" ]; then
		echo "  ok: $1 ($3)"
		return 0
	fi
	echo "  FAILED: $1: expected '$2', got '$3'"
	_keel_failed=$((_keel_failed + 1))
	return 1
}

check_drops() {
	local what=$1 n=$2 delivered=$3 dropped=$4 total=${5:-0}
	check "some $what were lost (the ring buffer filled up: dropped $dropped > 0)" \
		test "$dropped" -gt 0
	check "delivered + dropped account for all $n $what ($delivered + $dropped >= $n)" \
		test $((delivered + dropped)) -ge "$n"
	check "the drop event reports the total ($total >= $dropped)" \
		test "${total:-0}" -ge "$dropped" -a "${total:-0}" -gt 0
}
