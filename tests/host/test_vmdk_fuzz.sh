#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The VMDK parser under libFuzzer (tests/fuzz/vmdk_fuzz.c, built with
# address and undefined-behaviour sanitizers) for a bounded time,
# KEEL_FUZZ_SECONDS (default 30), from the seeds tests/fuzz/vmdk/make_seeds.py
# writes into build/fuzz-vmdk-seeds/ at each run.  Any
# crash, sanitizer report, leak, or refusal without an error message fails;
# the crashing input is kept under build/fuzz-vmdk/ to replay with
#   build/tests/fuzz/vmdk_fuzz INPUT
. "$(dirname "$0")/../integration/lib.sh"
FUZZ=$KEEL_BUILD/tests/fuzz/vmdk_fuzz
SEEDS=$KEEL_BUILD/fuzz-vmdk-seeds
secs=${KEEL_FUZZ_SECONDS:-30}
[ -x "$FUZZ" ] || skip "no $FUZZ (make builds it with clang and libclang-rt-14-dev)"
need_cmd python3

rm -rf "$SEEDS"
check "make the seeds (make_seeds.py)" python3 "$KEEL_TOP/tests/fuzz/vmdk/make_seeds.py" "$SEEDS" ||
	exit 1

# new inputs go to a scratch corpus; the seeds are only read
corpus=$KEEL_TMP/corpus
artifacts=$KEEL_BUILD/fuzz-vmdk/
mkdir -p "$corpus" "$artifacts"
note "fuzzing for $secs s from $(ls "$SEEDS"/*.vmdk | wc -l) seeds"
TMPDIR=$KEEL_TMP nice -n 10 "$FUZZ" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=20 \
	-artifact_prefix="$artifacts" -print_final_stats=1 "$corpus" "$SEEDS" \
	>"$KEEL_TMP/fuzz.log" 2>&1
rc=$?
grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|cov: ' "$KEEL_TMP/fuzz.log" | tail -3 |
	sed 's/^/  # /'
if [ "$rc" -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$KEEL_TMP/fuzz.log" | head -20 |
		sed 's/^/    | /'
	die "the fuzzer found a failure (exit $rc); input kept under $artifacts"
fi
echo "  ok: $secs s of fuzzing, no crash, no sanitizer report, every refusal explained"
