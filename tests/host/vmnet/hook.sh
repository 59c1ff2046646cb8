#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# A provider hook for the tests: hook.sh DIR ACTION IP MAC
# Counts attempts per (action, ip) in DIR; DIR/mode says how to misbehave:
#   fail2   the first two attempts of each change fail
#   hang1   the first attempt of each change hangs
#   slow    every attempt takes 0.5 s, then succeeds
#   down    every attempt fails while DIR/down exists (a provider outage)
# A successful attempt appends "ACTION IP MAC" to DIR/log.
dir=$1 action=$2 ip=$3 mac=$4
f="$dir/attempts.$action.$ip"
n=$(cat "$f" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$f"
case $(cat "$dir/mode" 2>/dev/null) in
fail2) [ "$n" -le 2 ] && { echo "simulated API error (attempt $n)" >&2; exit 1; } ;;
hang1) [ "$n" -le 1 ] && exec sleep 60 ;;
slow) sleep 0.5 ;;
down) [ -e "$dir/down" ] && { echo "simulated outage (attempt $n)" >&2; exit 1; } ;;
esac
echo "$action $ip $mac" >>"$dir/log"
