#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The 32-cell miss-ratio table of issue 3: keel against the best reference
# policy (LRU, CLOCK, FIFO, 2Q, ARC, S3-FIFO, SIEVE, LIRS, W-TinyLFU) and
# Belady's bound, object mode, on cloudPhysicsIO (489, 2448, 4897, 14692
# objects) and every LIRS trace (1%, 5%, 10%, 30% of the working set).
# Prints one line per cell and the count of cells keel wins (at or below
# the best reference, to 4 decimals as reported).
#   tests/bench/cache_table.sh [--md]     (--md: a markdown table)
# Needs ../shared/traces beside the checkout (or TRACES=DIR) and jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIM=${CACHESIM:-build/keel-cachesim}
TRACES=${TRACES:-../shared/traces}
md=0
[ "${1:-}" = --md ] && md=1
[ -d "$TRACES" ] || { echo "cache_table: $TRACES is missing: put the shared traces beside the checkout or set TRACES=DIR" >&2; exit 1; }
[ -x "$SIM" ] || { echo "cache_table: $SIM is missing: run make first" >&2; exit 1; }
command -v jq >/dev/null || { echo "cache_table: jq is missing: apt-get install jq" >&2; exit 1; }

cells=0 won=0
row() { # trace-name file sizes
	local name=$1 file=$2 sizes=$3 labels=(1% 5% 10% 30%) i=0
	while IFS=$'\t' read -r size keel bestp best belady; do
		local mark="" lost
		lost=$(awk -v k="$keel" -v b="$best" 'BEGIN { print (sprintf("%.4f", k) + 0 > sprintf("%.4f", b) + 0) }')
		cells=$((cells + 1))
		if [ "$lost" = 1 ]; then mark="*"; else won=$((won + 1)); fi
		if [ $md = 1 ]; then
			printf '| %s | %s %s | %s%.4f | %s %.4f | %.4f |\n' "$name" "${labels[$i]}" "$size" "$mark" "$keel" "$bestp" "$best" "$belady"
		else
			printf '%-15s %-4s %6s  keel %s%.4f  best %-9s %.4f  belady %.4f\n' "$name" "${labels[$i]}" "$size" "$mark" "$keel" "$bestp" "$best" "$belady"
		fi
		i=$((i + 1))
	done < <("$SIM" -q "$TRACES/$file" --policies all --sizes "$sizes" --json | jq -r '
		group_by(.size)[] |
		(map(select(.policy == "keel"))[0].miss_ratio) as $k |
		(map(select(.policy == "belady"))[0].miss_ratio) as $b |
		(map(select(.policy != "keel" and .policy != "belady")) | min_by(.miss_ratio)) as $r |
		[.[0].size, $k, $r.policy, $r.miss_ratio, $b] | @tsv')
}

[ $md = 1 ] && { echo '| trace | size | keel | best reference | Belady |'; echo '|---|---|---|---|---|'; }
row cloudPhysicsIO cloudPhysicsIO.oracleGeneral.bin 489,2448,4897,14692
for t in multi1 multi2 multi3 sprite 2_pools loop zigzag; do
	row "$t" "lirs-$t.trace.gz" 1%,5%,10%,30%
done
echo "keel at or below the best reference in $won of $cells cells"
