# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the vdisk host tests: serve a disk with keel-vdisk (nbdkit and
# keel's plugin), wait for it, stop it.  Source after lib.sh.
VDISK=$KEEL_BUILD/keel-vdisk
export KEEL_VDISK_RUN_DIR=$KEEL_TMP/run

# vdisk_serve DISK SOCKET: start the disk server; its pid in VDISK_PID
vdisk_serve() {
	local i
	"$VDISK" serve "$1" --socket "$2" --events "$KEEL_TMP/events.ndjson" \
		2>>"$KEEL_TMP/server.log" &
	VDISK_PID=$!
	on_exit "kill -9 $VDISK_PID"
	for i in $(seq 100); do
		[ -S "$2" ] && qemu-io -r -f raw -c "read 0 512" "nbd+unix:///?socket=$2" \
			>/dev/null 2>&1 && return 0
		kill -0 "$VDISK_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$KEEL_TMP/server.log"
	return 1
}

vdisk_stop() {
	kill "$VDISK_PID" 2>/dev/null
	wait "$VDISK_PID" 2>/dev/null
	return 0
}

nbd_uri() { echo "nbd+unix:///?socket=$1"; }
