# SPDX-License-Identifier: GPL-2.0-only
# keeld's memh read service, end to end: source after lib.sh and keeld.sh,
# then call memh_read_service MODE (module or fallback: how keeld must hold
# the clients' handles).  Used by tests/host/test_memh_keeld.sh (fallback)
# and tests/integration/test_memh_keeld.sh (keel.ko loaded: module).

MEMH_CLIENT=$KEEL_BUILD/tests/memh_client

# the memh counters of keelctl status
memh_counter() {
	"$KEELCTL" status --json | jq -r ".subsystems[] | select(.name == \"memh\") | .counters.$1"
}

memh_read_service() {
	local mode=$1 data=$KEEL_TMP/data other=$KEEL_TMP/other S=$KEEL_TMP/memh.sock
	local C=$MEMH_CLIENT out fds0 fds1 holders=() i

	[ -x "$C" ] || make -s -C "$KEEL_TOP" "$C" >/dev/null 2>&1 || die "make $C"
	mkdir -p "$data/sub" "$other"
	head -c 10000000 /dev/urandom >"$data/f"
	echo secret >"$other/secret"
	ln -s ../other/secret "$data/escape"
	ln -s /etc/passwd "$data/abs"
	ln -s ../f "$data/sub/inside"
	mkfifo "$data/fifo"

	keeld_conf "[exec]" "enabled = false" "[vmnet]" "enabled = false" \
		"[memh]" "allowed_dirs = $data" "max_read_bytes = 8388608" \
		"max_clients = 4" "max_inflight = 4"
	keeld_start || die "keeld did not start"

	check_eq "memh runs" running "$(subsys_state memh)"
	check_eq "memh says it runs in $mode mode" "$mode" "$(memh_counter mode)"
	check_eq "the socket sits beside the control socket" "$S" "$(memh_counter socket)"
	check_eq "the socket is mode 0660" 660 "$(stat -c %a "$S")"

	# reads land in the client's buffer, byte for byte (the client checks
	# them against the file, and that nothing else in its buffer changed)
	check "4 KiB at file offset 0 into handle offset 0" \
		"$C" --mode "$mode" "$S" read "$data/f" 0 4096 0
	check "1,000,000 bytes from file offset 12345 into handle offset 777" \
		"$C" --mode "$mode" --buf 4194304 "$S" read "$data/f" 12345 1000000 777
	check "8 MiB (the limit) into a 16 MiB buffer at offset 1 MiB + 1, crossing 2 MiB sections" \
		"$C" --mode "$mode" --buf 16777216 "$S" read "$data/f" 1000000 8388608 1048577
	out=$("$C" "$S" read "$data/f" 9999000 4096 0)
	check_eq "a read past the end of the file returns the bytes there are" \
		"ok 1000 bytes ($mode mode)" "$out"
	check "a symlink that stays inside the directory is followed" \
		"$C" "$S" read "$data/sub/inside" 0 4096 0

	# refusals: each with its errno and a message that says why
	memh_refused() {	# WHAT CODE PATTERN CLIENT-ARGS...
		local what=$1 code=$2 pat=$3 o
		shift 3
		o=$("$C" --expect "$code" "$@" 2>&1)
		check "$what: $code" test $? -eq 0 && check "  ... says: $pat" sh -c 'echo "$1" | grep -q -- "$2"' _ "$o" "$pat" || echo "    | $o"
	}
	memh_refused "a file outside allowed_dirs" EACCES "not under \[memh\] allowed_dirs" \
		"$S" read "$other/secret" 0 7 0
	memh_refused "a symlink leading outside" EXDEV "leads outside" "$S" read "$data/escape" 0 7 0
	memh_refused "an absolute symlink" EXDEV "leads outside" "$S" read "$data/abs" 0 7 0
	memh_refused "'..' out of the directory" EXDEV "leads outside" \
		"$S" read "$data/../other/secret" 0 7 0
	memh_refused "len over max_read_bytes" EFBIG "max_read_bytes = 8388608" \
		--buf 16777216 "$S" read "$data/f" 0 8388609 0
	memh_refused "handle offset + len beyond the handle" ENXIO "beyond the handle" \
		"$S" read "$data/f" 0 4096 1044481
	memh_refused "a read-only handle" EACCES "read-only" --readonly "$S" read "$data/f" 0 4096 0
	memh_refused "a missing file" ENOENT "No such file" "$S" read "$data/nope" 0 4096 0
	memh_refused "a FIFO (would block)" EINVAL "not a regular file" "$S" read "$data/fifo" 0 4096 0
	memh_refused "a directory" EINVAL "not a regular file" "$S" read "$data/sub" 0 4096 0
	memh_refused "a relative path" EINVAL "absolute" "$S" read "f" 0 4096 0
	out=$(printf '{"id":1}\n' | timeout 5 socat - "UNIX-CONNECT:$S" 2>&1)
	check "a client that sends no handle is told so" \
		sh -c 'echo "$1" | grep -q "must carry a memory handle"' _ "$out"

	out=$("$C" --buf 8388608 "$S" pipeline 12 "$data/f" 8388608)
	check "12 requests at once with max_inflight 4: some refused EBUSY, none fails otherwise" \
		sh -c 'echo "$1" | awk "{ exit !(\$2 >= 4 && \$4 >= 1 && \$2 + \$4 == 12 && \$6 == 0) }"' _ "$out"
	note "pipeline: $out"

	# max_clients 4: four connected, the fifth refused, a place freed is taken
	for i in 1 2 3 4; do
		"$C" "$S" hold >"$KEEL_TMP/hold$i" 2>&1 &
		holders+=($!)
	done
	on_exit "kill ${holders[*]}"
	for _ in $(seq 100); do
		[ "$(cat "$KEEL_TMP"/hold[1-4] | grep -c held)" -eq 4 ] && break
		sleep 0.1
	done
	check_eq "four clients hold a connection" 4 "$(memh_counter clients)"
	memh_refused "a fifth client" EUSERS "too many clients" "$S" read "$data/f" 0 4096 0
	kill "${holders[0]}"
	wait "${holders[0]}" 2>/dev/null
	for _ in $(seq 50); do [ "$(memh_counter clients)" -eq 3 ] && break; sleep 0.1; done
	check "once one leaves, a new client is served" "$C" "$S" read "$data/f" 0 4096 0
	kill "${holders[@]:1}"
	wait "${holders[@]:1}" 2>/dev/null

	# clients that vanish mid-request: keeld cancels, frees, serves the others
	for _ in $(seq 50); do [ "$(memh_counter clients)" -eq 0 ] && break; sleep 0.1; done
	fds0=$(ls /proc/"$KEELD_PID"/fd | wc -l)
	"$C" --buf 8388608 "$S" read "$data/f" 0 8388608 0 >"$KEEL_TMP/big.out" 2>&1 &
	i=$!
	for _ in 1 2 3 4 5 6 7 8; do
		"$C" --buf 8388608 "$S" abandon "$data/f" 8388608
	done
	check "a read running meanwhile on another connection completes" wait "$i"
	check "and its bytes are right" grep -q "ok 8388608 bytes" "$KEEL_TMP/big.out"
	check "keeld still serves after eight clients left mid-request" \
		"$C" "$S" read "$data/f" 4096 4096 4096
	for _ in $(seq 50); do [ "$(memh_counter clients)" -eq 0 ] && break; sleep 0.1; done
	sleep 0.3	# let the workers finish the cancelled reads
	fds1=$(ls /proc/"$KEELD_PID"/fd | wc -l)
	check_eq "keeld holds no descriptor of the departed clients (fd count)" "$fds0" "$fds1"
	note "requests cancelled by a disconnect: $(memh_counter cancelled)"

	check "memh.read_error events name the reason" \
		sh -c "'$KEELCTL' events --type memh.read_error | grep -q 'not under \\[memh\\] allowed_dirs'"
	check "memh.client_connect events say the mode" \
		sh -c "'$KEELCTL' events --type memh.client_connect | grep -q '\"mode\":\"$mode\"'"
	check "keeld's loop still answers keelctl" "$KEELCTL" status
	keeld_stop
	check_eq "keeld exits 0" 0 "$KEELD_STATUS"
	check "the memh socket is removed" test ! -e "$S"
}
