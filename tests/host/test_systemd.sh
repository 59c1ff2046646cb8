#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# The systemd unit is valid, and keeld tells systemd it is ready (Type=notify)
# only once it answers on its socket, and that it is stopping on SIGTERM.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/keeld.sh"
need_root
need_cmd systemd-analyze socat

sed "s|/usr/local/sbin/keeld|$KEELD|" "$KEEL_TOP/deploy/keeld.service" >"$KEEL_TMP/keeld.service"
check "systemd-analyze verify deploy/keeld.service" systemd-analyze verify "$KEEL_TMP/keeld.service"

export NOTIFY_SOCKET=$KEEL_TMP/notify.sock
socat -u UNIX-RECV:"$NOTIFY_SOCKET" OPEN:"$KEEL_TMP/notify.out",creat,append &
socat_pid=$!
on_exit kill $socat_pid
for _ in $(seq 1 50); do [ -S "$NOTIFY_SOCKET" ] && break; sleep 0.1; done

keeld_conf
keeld_start || die "keeld did not start"
for _ in $(seq 1 50); do grep -q READY=1 "$KEEL_TMP/notify.out" && break; sleep 0.1; done
check "keeld sent READY=1" grep -q READY=1 "$KEEL_TMP/notify.out"
keeld_stop
check_eq "keeld exits 0 on SIGTERM" 0 "$KEELD_STATUS"
sleep 0.2
check "keeld sent STOPPING=1" grep -q STOPPING=1 "$KEEL_TMP/notify.out"
