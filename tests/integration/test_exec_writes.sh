#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, the kernel's side of "any change taints", on tmpfs and on ext4:
# a trusted file written through io_uring (IORING_OP_OPENAT, IORING_OP_WRITE,
# async and fixed-file variants), chowned (chown, fchown, lchown, fchownat),
# stripped of a user.* or security.* attribute, or replaced by a rename onto
# its path loses its trust and is refused in enforce mode; execveat by dirfd
# and by descriptor obeys the same rules; an O_TMPFILE file linked into
# place is not trusted; a randomized sequence of installs, changes, renames,
# hard links and executions matches a model of what must run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
need_root
need_vm
need_cmd jq gcc ldd mkfs.ext4

T=$KEEL_TMP
check "compile exec_writes_helper.c" gcc -std=gnu11 -O1 -Wall -o "$T/helper.src" \
	"$KEEL_TOP/tests/integration/exec_writes_helper.c" || exit 1

# ext4 on a loop device: a disk file system with i_version and user.* xattrs
# (tmpfs on 6.1 has no user.* xattrs)
truncate -s 48M "$T/ext4.img"
check "mkfs.ext4 on a loop image" mkfs.ext4 -q -F "$T/ext4.img" || exit 1
mkdir -p "$T/ext4" "$T/tmpfs" "$T/bin"
check "mount it" mount -o loop "$T/ext4.img" "$T/ext4" || exit 1
on_exit umount "$T/ext4"

keeld_conf "[events]" "backlog = 16384" "[exec]" "trust_db = $T/trust.db"
keeld_start || die "keeld did not start"
check_eq "exec runs" running "$(subsys_state exec)"
on_exit '"$KEELCTL" exec mode audit'

tools="bash sh cat cp chmod ln mv rm sleep grep jq seq sed stat realpath mkdir umount touch"
files=("$KEELCTL")
for t in $tools; do files+=("$(command -v "$t")"); done
for f in "${files[@]}"; do
	ldd "$f" 2>/dev/null | grep -o '/[^ ]*' >>"$T/libs"
done
mapfile -t enroll < <(for f in "${files[@]}" $(cat "$T/libs"); do realpath "$f"; done | sort -u)
check "trust add: ${#enroll[@]} tools and libraries of this test" \
	"$KEELCTL" trust add "${enroll[@]}" || exit 1
# private installed copies: a rebuild on the host would taint build/keelctl
check "keelctl install keelctl and the helper" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install $T/helper.src $T/bin/helper"
KEELCTL=$T/bin/keelctl
H=$T/bin/helper
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1

# refused CMD...: fails with EPERM
refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $*"; return 1; }
	grep -qiE "not permitted|EPERM" <<<"$out" || { echo "failed otherwise: $out"; return 1; }
}

# ident FILE: "device inode" as keeld's events name them
ident() {
	stat -L -c '%Hd:%Ld %i' "$1"
}

# count_verdict TYPE IDENT OP [REASON]: how many events of TYPE name that
# inode with OP (an inode number comes back with a new generation: count
# before a change, then wait for one more)
count_verdict() {
	local dev=${2%% *} ino=${2#* }
	"$KEELCTL" events --type "$1" | grep -F "\"device\":\"$dev\"" |
		grep -F "\"inode\":$ino," | grep -F "\"op\":\"$3\"" |
		grep -cF "\"reason\":\"${4:-}"
}

# wait_verdict BEFORE TYPE IDENT OP [REASON]: more than BEFORE such events
wait_verdict() {
	local before=$1
	shift
	for _ in $(seq 1 50); do
		[ "$(count_verdict "$@")" -gt "$before" ] && return 0
		sleep 0.1
	done
	echo "no new $1 op $3${4:+ reason $4} for device:inode $2"
	return 1
}

# fresh FILE: a newly installed, running copy of true; prints its identity
fresh() {
	rm -f "$1"
	"$KEELCTL" install /bin/true "$1" >/dev/null || { echo "install $1 failed"; return 1; }
	"$1" || { echo "freshly installed $1 does not run"; return 1; }
	ident "$1"
}

# taint_after FILE OP CMD...: CMD changes the trusted FILE; expect an
# exec.taint OP for its inode, and FILE (or FILE.moved) refused
taint_after() {
	local f=$1 op=$2 id n
	shift 2
	id=$(ident "$f")
	n=$(count_verdict exec.taint "$id" "$op")
	"$@" || { echo "the change failed: $*"; return 1; }
	wait_verdict "$n" exec.taint "$id" "$op" || return 1
	[ -e "$f" ] || f=$f.moved
	refused "$f"
}

# taint_case FILE OP CMD...: the same on a freshly installed FILE
taint_case() {
	fresh "$1" >/dev/null || return 1
	taint_after "$@"
}

# refused_why FILE REASON [CMD...]: running FILE (or CMD) is refused, with
# a new exec.deny REASON for FILE's inode
refused_why() {
	local f=$1 reason=$2 id n
	shift 2
	id=$(ident "$f")
	n=$(count_verdict exec.deny "$id" exec "$reason")
	[ $# -gt 0 ] || set -- "$f"
	refused "$@" || return 1
	wait_verdict "$n" exec.deny "$id" exec "$reason"
}

# retrusted FILE CMD...: FILE freshly installed, CMD run, FILE trusted again
retrusted() {
	local f=$1
	shift
	fresh "$f" >/dev/null && "$@" && "$KEELCTL" trust add "$f" >/dev/null && "$f"
}

for fs in tmpfs ext4; do
	D=$T/$fs
	V=$D/victim
	note "$fs: changes to a trusted file"
	check "$fs: io_uring: open(2) O_WRONLY, IORING_OP_WRITE" \
		taint_case "$V" open_write "$H" uring-write "$V"
	check "$fs: io_uring: IORING_OP_WRITE forced to a worker (IOSQE_ASYNC)" \
		taint_case "$V" open_write "$H" uring-write "$V" async
	check "$fs: io_uring: IORING_OP_OPENAT O_WRONLY, IORING_OP_WRITE" \
		taint_case "$V" open_write "$H" uring-openat-write "$V"
	check "$fs: io_uring: IORING_OP_OPENAT and WRITE in a worker (IOSQE_ASYNC)" \
		taint_case "$V" open_write "$H" uring-openat-write "$V" async
	check "$fs: io_uring: IORING_OP_OPENAT into a fixed file slot (no descriptor)" \
		taint_case "$V" open_write "$H" uring-openat-write "$V" fixed
	check "$fs: io_uring: IORING_OP_FSETXATTR on a read-only descriptor" \
		taint_case "$V" xattr "$H" uring-fsetxattr "$V"
	check "$fs: io_uring: IORING_OP_LINKAT" \
		taint_case "$V" link "$H" uring-link "$V" "$V.link"
	rm -f "$V.link"
	check "$fs: io_uring: IORING_OP_RENAMEAT" \
		taint_case "$V" rename "$H" uring-rename "$V" "$V.moved"
	rm -f "$V.moved"
	for how in chown fchown lchown fchownat-empty chown-same; do
		check "$fs: $how (owner change; chown-same: to the same owner)" \
			taint_case "$V" setattr "$H" "$how" "$V"
	done
	fresh "$V" >/dev/null
	ln -sf "$V" "$D/symlink"
	"$H" lchown "$D/symlink"
	check "$fs: lchown of a symbolic link to it leaves the target trusted" "$V"

	names="security.keel"
	[ "$fs" = ext4 ] && names="$names user.keel"
	for name in $names; do
		for how in removexattr lremovexattr fremovexattr; do
			check "$fs: $name set, trusted again, then $how" \
				retrusted "$V" "$H" setxattr "$name" "$V" &&
				check "$fs: $how $name taints and the file is refused" \
					taint_after "$V" xattr "$H" "$how" "$name" "$V"
		done
	done
	check "$fs: security.capability set (CAP_NET_RAW), trusted again" \
		retrusted "$V" "$H" setcap "$V" &&
		check "$fs: removexattr security.capability taints and the file is refused" \
			taint_after "$V" xattr "$H" removexattr security.capability "$V"

	note "$fs: rename onto a trusted path"
	R=$D/target
	id=$(fresh "$R")
	cp /bin/true "$D/new"
	exec 7<"$R"
	n=$(count_verdict exec.taint "$id" rename)
	mv -f "$D/new" "$R"
	check "$fs: mv onto it: the trusted inode it replaces is tainted (op rename)" \
		wait_verdict "$n" exec.taint "$id" rename
	check "$fs: mv onto it: the new file at the path is refused (untrusted)" \
		refused_why "$R" untrusted
	check "$fs: mv onto it: the replaced inode, open but nameless, is refused (deleted)" \
		refused_why "/proc/$$/fd/7" deleted
	exec 7<&-

	fresh "$R" >/dev/null
	ln "$R" "$D/other"
	check "$fs: a file with two names trusted again (trust add)" "$KEELCTL" trust add "$R"
	check "$fs: it runs by its second name" "$D/other"
	id=$(ident "$R")
	n=$(count_verdict exec.taint "$id" rename)
	cp /bin/true "$D/new"
	"$H" uring-rename "$D/new" "$R"
	check "$fs: IORING_OP_RENAMEAT onto it: the replaced inode is tainted" \
		wait_verdict "$n" exec.taint "$id" rename
	check "$fs: the replaced inode, still named, is refused by that name" \
		refused_why "$D/other" untrusted
	check "$fs: the new file at the path is refused" refused_why "$R" untrusted
	rm -f "$D/other"

	fresh "$R" >/dev/null
	cp /bin/true "$D/new"
	check "$fs: RENAME_EXCHANGE of the trusted file with an untrusted one" \
		"$H" exchange "$R" "$D/new"
	check "$fs: exchanged: the untrusted inode now at the trusted path is refused" \
		refused_why "$R" untrusted
	check "$fs: exchanged: the trusted inode, at the other name, lost its trust" \
		refused_why "$D/new" untrusted

	fresh "$R" >/dev/null
	fresh "$D/new" >/dev/null
	mv -f "$D/new" "$R"
	check "$fs: a trusted file moved onto another trusted one: refused (both tainted)" \
		refused_why "$R" untrusted

	note "$fs: execveat"
	fresh "$D/good" >/dev/null
	cp /bin/true "$D/copied"
	check "$fs: execveat(dirfd, \"good\") of a trusted file runs" "$H" execveat-dir "$D" good
	check "$fs: execveat(dirfd, \"copied\") of an untrusted file is refused" \
		refused_why "$D/copied" untrusted "$H" execveat-dir "$D" copied
	check "$fs: execveat(fd, \"\", AT_EMPTY_PATH) of a trusted file runs" \
		"$H" execveat-fd "$D/good"
	check "$fs: the same through an O_PATH descriptor runs" "$H" execveat-fd "$D/good" opath
	check "$fs: execveat(fd, \"\", AT_EMPTY_PATH) of an untrusted file is refused" \
		refused_why "$D/copied" untrusted "$H" execveat-fd "$D/copied"
	check "$fs: the same through an O_PATH descriptor is refused" \
		refused_why "$D/copied" untrusted "$H" execveat-fd "$D/copied" opath
	id=$(fresh "$D/gone")
	n=$(count_verdict exec.deny "$id" exec deleted)
	check "$fs: execveat AT_EMPTY_PATH of a trusted file unlinked after the open is refused" \
		refused "$H" execveat-unlinked "$D/gone"
	check "$fs: exec.deny reason deleted for it" wait_verdict "$n" exec.deny "$id" exec deleted
	"$H" uring-write "$D/good"
	check "$fs: execveat AT_EMPTY_PATH of a trusted file written through io_uring is refused" \
		refused_why "$D/good" untrusted "$H" execveat-fd "$D/good"

	note "$fs: O_TMPFILE"
	rm -f "$D"/tmp*
	check "$fs: O_TMPFILE file linked in through /proc/self/fd" \
		"$H" tmpfile-link "$D" tmp1 /bin/true proc &&
		check "$fs: it is refused (untrusted)" refused_why "$D/tmp1" untrusted
	check "$fs: O_TMPFILE file linked in with linkat(fd, \"\", AT_EMPTY_PATH)" \
		"$H" tmpfile-link "$D" tmp2 /bin/true empty &&
		check "$fs: it is refused (untrusted)" refused_why "$D/tmp2" untrusted
	fresh "$D/good" >/dev/null
	check "$fs: O_TMPFILE copy of a trusted file linked in" \
		"$H" tmpfile-link "$D" tmp3 "$D/good" empty &&
		check "$fs: same content, another inode: refused" refused_why "$D/tmp3" untrusted
	check "$fs: an O_TMPFILE file executed before it has a name is refused" \
		refused "$H" tmpfile-exec "$D" "$D/good"
	check "$fs: the linked O_TMPFILE file trusted with trust add then runs" \
		sh -c "$KEELCTL trust add $D/tmp3 >/dev/null && $D/tmp3"
done

# --- randomized: installs, changes, renames, hard links, executions ---------
# The model: each name holds an inode (a number given here), each inode is
# trusted or not.  Installing trusts a new inode at a name and taints the
# one it replaces; trust add trusts a name's inode (every name of it); any
# change, a rename (of it or onto it), a hard link or an unlink taints it;
# renaming a name onto another name of the same inode does nothing.
steps=${KEEL_EXEC_STEPS:-200}
RANDOM=${KEEL_SEED:-$$}
note "randomized sequence: $steps steps, seed $RANDOM (KEEL_SEED=... to replay)"
declare -A ino_of=() trust=()
methods=(append uring-write uring-openat-write chmod chown-same truncate-same setxattr touch)
next=0 bad=0 runs=0 refusals=0
fsys=(tmpfs ext4)
for fs in "${fsys[@]}"; do rm -rf "${T:?}/$fs/r"; mkdir "$T/$fs/r"; done
taint_name() {	# NAME: the model's taint of NAME's inode
	[ -n "${ino_of[$1]:-}" ] && trust[${ino_of[$1]}]=0
	return 0
}
for i in $(seq 1 "$steps"); do
	d=$T/${fsys[RANDOM % 2]}/r
	f=$d/n$((RANDOM % 3))
	g=$d/n$((RANDOM % 3))
	op=$((RANDOM % 20))
	if [ -z "${ino_of[$f]:-}" ] && [ "$op" -ge 4 ] && [ "$op" -lt 19 ]; then
		op=0	# nothing there: install instead
	fi
	case $op in
	0 | 1 | 2 | 3)
		if ! "$KEELCTL" install /bin/true "$f" >/dev/null; then
			echo "  step $i: keelctl install $f failed"; bad=1; continue
		fi
		taint_name "$f"
		next=$((next + 1)); ino_of[$f]=$next; trust[$next]=1 ;;
	4)
		"$KEELCTL" trust add "$f" >/dev/null || { echo "  step $i: trust add $f failed"; bad=1; }
		trust[${ino_of[$f]}]=1 ;;
	5 | 6 | 7 | 8)
		m=${methods[RANDOM % ${#methods[@]}]}
		case $m in
		append) echo >>"$f" ;;
		chmod) chmod 0755 "$f" ;;
		touch) touch "$f" ;;
		setxattr) "$H" setxattr security.keel "$f" ;;
		*) "$H" "$m" "$f" ;;
		esac || { echo "  step $i: $m $f failed"; bad=1; }
		taint_name "$f" ;;
	9 | 10 | 11 | 12 | 13 | 14)
		if [ $((RANDOM % 2)) = 0 ]; then
			how=exec; out=$("$f" 2>&1)
		else
			how=execveat; out=$("$H" execveat-fd "$f" 2>&1)
		fi
		rc=$?
		if [ "$rc" = 0 ]; then
			runs=$((runs + 1))
			[ "${trust[${ino_of[$f]}]}" = 1 ] ||
				{ echo "  step $i: $f ran ($how) although not trusted"; bad=1; }
		else
			refusals=$((refusals + 1))
			[ "${trust[${ino_of[$f]}]}" = 1 ] &&
				{ echo "  step $i: trusted $f did not run ($how): $out"; bad=1; }
			grep -qiE "not permitted|EPERM" <<<"$out" ||
				{ echo "  step $i: $f failed ($how) otherwise: $out"; bad=1; }
		fi ;;
	15 | 16)
		[ "$f" = "$g" ] && continue
		"$H" rename "$f" "$g" || { echo "  step $i: rename $f $g failed"; bad=1; }
		[ "${ino_of[$g]:-}" = "${ino_of[$f]}" ] && continue	# same inode: nothing happens
		taint_name "$f"
		taint_name "$g"
		ino_of[$g]=${ino_of[$f]}
		unset "ino_of[$f]" ;;
	17)
		[ "$f" = "$g" ] && continue
		taint_name "$g"
		unset "ino_of[$g]"
		rm -f "$g"
		ln "$f" "$g" || { echo "  step $i: ln $f $g failed"; bad=1; }
		taint_name "$f"
		ino_of[$g]=${ino_of[$f]} ;;
	18)
		rm -f "$f"
		taint_name "$f"
		unset "ino_of[$f]" ;;
	19)
		taint_name "$f"
		rm -f "$f"
		cp /bin/true "$f"
		next=$((next + 1)); ino_of[$f]=$next; trust[$next]=0 ;;
	esac
done
note "randomized: $runs runs, $refusals refusals, $next inodes"
check_eq "randomized: every run and refusal matched the model" 0 "$bad"
check "randomized: the sequence both ran and refused files" test "$runs" -gt 0 -a "$refusals" -gt 0

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
