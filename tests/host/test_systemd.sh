#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The systemd unit is valid and hardened (systemd-analyze security), keeld
# tells systemd it is ready (Type=notify) only once it answers on its
# socket, pings the watchdog (WatchdogSec) from its loop, and says it is
# stopping on SIGTERM.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd systemd-analyze socat

sed "s|/usr/local/sbin/keeld|$KEELD|" "$KEEL_TOP/deploy/keeld.service" >"$KEEL_TMP/keeld.service"
check "systemd-analyze verify deploy/keeld.service" systemd-analyze verify "$KEEL_TMP/keeld.service"
for k in ProtectSystem=strict StateDirectory=keel RuntimeDirectory=keel LogsDirectory=keel \
	RestrictAddressFamilies= SystemCallArchitectures=native LockPersonality=yes \
	WatchdogSec= 'ExecReload=/bin/kill -HUP $MAINPID'; do
	check "the unit sets $k" grep -q "^$k" "$KEEL_TMP/keeld.service"
done
score=$(systemd-analyze security --offline=true "$KEEL_TMP/keeld.service" 2>/dev/null |
	sed -n 's/.*Overall exposure level for keeld.service: \([0-9.]*\).*/\1/p')
note "systemd-analyze security: $score (7.7 before the hardening)"
check "exposure below the unhardened unit's 7.7" awk "BEGIN { exit !($score < 7.7) }"

export NOTIFY_SOCKET=$KEEL_TMP/notify.sock
socat -u UNIX-RECV:"$NOTIFY_SOCKET" OPEN:"$KEEL_TMP/notify.out",creat,append &
socat_pid=$!
on_exit kill $socat_pid
for _ in $(seq 1 50); do [ -S "$NOTIFY_SOCKET" ] && break; sleep 0.1; done

keeld_conf
export WATCHDOG_USEC=400000	# as systemd sets it for WatchdogSec=0.4s
keeld_start || die "keeld did not start"
unset WATCHDOG_USEC
for _ in $(seq 1 50); do grep -q READY=1 "$KEEL_TMP/notify.out" && break; sleep 0.1; done
check "keeld sent READY=1" grep -q READY=1 "$KEEL_TMP/notify.out"
check "keeld says it pings the watchdog every 200 ms" grep -q "watchdog: WATCHDOG=1 every 200 ms" "$KEELD_ERR"
sleep 1.5
pings=$(grep -o WATCHDOG=1 "$KEEL_TMP/notify.out" | wc -l)
note "$pings WATCHDOG=1 in about 1.5 s"
check "keeld pings the watchdog repeatedly from its loop" test "$pings" -ge 3
keeld_stop
check_eq "keeld exits 0 on SIGTERM" 0 "$KEELD_STATUS"
sleep 0.2
check "keeld sent STOPPING=1" grep -q STOPPING=1 "$KEEL_TMP/notify.out"
