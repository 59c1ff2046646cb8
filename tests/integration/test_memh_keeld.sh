#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# keeld's memh read service with keel.ko loaded: clients' handles are the
# module's, keeld maps their sections and reads files into them.  The same
# scenarios as tests/host/test_memh_keeld.sh (fallback), in module mode,
# plus a client that forces the fallback against the same keeld.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/memh/read_service.sh"
need_root
need_vm
need_cmd jq socat insmod rmmod modinfo
[ "$(cat /proc/sys/kernel/modules_disabled 2>/dev/null)" = 1 ] &&
	skip "module loading is disabled on this kernel"

ko=$KEEL_KO
kver=$(uname -r)
[ -f "$ko" ] || skip "keel.ko is not built (make kmod)"
[ "$(modinfo -F vermagic "$ko" | awk '{ print $1 }')" = "$kver" ] ||
	skip "keel.ko is not built for the running kernel $kver"
if ! grep -q '^keel ' /proc/modules; then
	check "insmod keel.ko" insmod "$ko" || die "cannot load keel.ko"
	on_exit 'rmmod keel'
fi
for _ in $(seq 50); do [ -c /dev/keel ] && break; sleep 0.1; done

memh_read_service module

# a fallback handle is served by the same keeld too
keeld_start || die "keeld did not restart"
check "a client forcing the fallback is served by keeld in module mode" \
	"$MEMH_CLIENT" --fallback --mode fallback "$KEEL_TMP/memh.sock" read "$KEEL_TMP/data/f" 0 65536 0
check_eq "counted as a fallback handle" 1 "$(memh_counter handles_fallback)"
keeld_stop
check_eq "no handle left open in keel.ko" 0 "$(cat /sys/module/keel/parameters/handles_open)"
