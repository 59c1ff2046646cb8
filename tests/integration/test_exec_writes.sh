#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# exec, the kernel's side of "any change taints", on tmpfs and on ext4:
# a trusted file written through io_uring (IORING_OP_OPENAT, IORING_OP_WRITE,
# async and fixed-file variants), chowned (chown, fchown, lchown, fchownat),
# stripped of a user.* or security.* attribute, given an ACL or file flags
# (chattr), or replaced by a rename onto its path loses its trust (an
# exec.taint event) and is refused in enforce mode; a change the kernel
# refuses (chmod or security.* by another user, removing an absent
# attribute) leaves it trusted and is still refused; execveat by dirfd and
# by descriptor obeys the same rules; an O_TMPFILE file linked into place
# is not trusted; a randomized sequence of installs, changes, renames, hard
# links and executions matches a model of what must run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/keeld.sh"
. "$(dirname "$0")/exec_lib.sh"
need_root
need_vm
need_cmd jq ldd mkfs.ext4 awk

T=$KEEL_TMP
bin=$(built_helper exec_writes_helper) || exit 1

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

tools="bash sh cat cp chmod ln mv rm grep jq sed stat realpath readlink mkdir umount touch awk sleep seq"
exec_trust "$KEELCTL" $tools || exit 1
# private installed copies: a rebuild on the host would taint build/keelctl
check "keelctl install keelctl and the helper" sh -c \
	"$KEELCTL install $KEELCTL $T/bin/keelctl && $KEELCTL install $bin $T/bin/helper"
KEELCTL=$T/bin/keelctl
H=$T/bin/helper
check "keelctl exec mode enforce" "$KEELCTL" exec mode enforce || exit 1

# refused CMD...: fails with EPERM
refused() {
	local out
	out=$("$@" 2>&1) && { echo "ran: $*"; return 1; }
	grep -qiE "not permitted|EPERM" <<<"$out" || { echo "failed otherwise: $out"; return 1; }
}

# fresh FILE: a newly installed copy of true, which runs
fresh() {
	"$KEELCTL" install /bin/true "$1" >/dev/null || { echo "install $1 failed"; return 1; }
	"$1" || { echo "freshly installed $1 does not run"; return 1; }
}

# A new name in $D for each case: inode numbers are reused (ext4), names
# are not, so an event names its case by device, inode and name.
k=0
new_victim() {
	k=$((k + 1))
	V=$D/v$k
}

# Events are checked once per section (one read of keeld's backlog):
# expect TYPE FILE OP REASON WHAT: an event of TYPE for FILE's inode (now)
# and name, with OP and REASON; expect_none TYPE FILE OP WHAT: none.
# A nameless file (/proc/PID/fd/N) is named "NAME (deleted)" by the kernel.
expects=$T/expects
: >"$expects"
expect() {
	local id name=${2##*/}
	id=$(stat -L -c '%Hd:%Ld|%i' "$2") || return 1
	case $2 in /proc/*) name=$(readlink "$2") && name=${name##*/} ;; esac
	printf '%s|%s|%s|%s|%s|+|%s\n' "$1" "$id" "$3" "$4" "$name" "$5" >>"$expects"
}
expect_none() {
	local id
	id=$(stat -L -c '%Hd:%Ld|%i' "$2") || return 1
	printf '%s|%s|%s|-|%s|-|%s\n' "$1" "$id" "$3" "${2##*/}" "$4" >>"$expects"
}
cat >"$T/events.awk" <<'AWK'
function field(re) {
	if (!match($0, re))
		return ""
	return substr($0, RSTART, RLENGTH)
}
function value(s) {
	sub(/^"[a-z]*":"?/, "", s)
	sub(/"$/, "", s)
	return s
}
FILENAME == ARGV[1] { n++; want[n] = $0; next }
{
	path = value(field("\"path\":\"[^\"]*\""))
	sub(/.*\//, "", path)
	seen[value(field("\"type\":\"[^\"]*\"")) "|" value(field("\"device\":\"[^\"]*\"")) "|" \
	     value(field("\"inode\":[0-9]*")) "|" value(field("\"op\":\"[^\"]*\"")) "|" \
	     value(field("\"reason\":\"[^\"]*\"")) "|" path]++
	any[value(field("\"type\":\"[^\"]*\"")) "|" value(field("\"device\":\"[^\"]*\"")) "|" \
	    value(field("\"inode\":[0-9]*")) "|" value(field("\"op\":\"[^\"]*\"")) "|" path]++
}
END {
	for (i = 1; i <= n; i++) {
		split(want[i], w, "|")
		if (w[7] == "+")
			found = (w[1] "|" w[2] "|" w[3] "|" w[4] "|" w[5] "|" w[6]) in seen
		else
			found = !((w[1] "|" w[2] "|" w[3] "|" w[4] "|" w[6]) in any)
		print (found ? "ok" : "missing") "|" want[i]
	}
}
AWK
check_events() {
	local out line
	for _ in 1 2 3; do
		"$KEELCTL" events --type exec.taint >"$T/events"
		"$KEELCTL" events --type exec.deny >>"$T/events"
		out=$(awk -F'|' -f "$T/events.awk" "$expects" "$T/events")
		grep -q '^missing' <<<"$out" || break
		sleep 1
	done
	while IFS='|' read -r res type dev ino op reason name sign what; do
		if [ "$sign" = + ]; then
			line="$what: $type op $op reason $reason for $name ($dev inode $ino)"
		else
			line="$what: no $type op $op for $name ($dev inode $ino)"
		fi
		if [ "$res" = ok ]; then
			echo "  ok: $line"
		else
			echo "  FAILED: $line"
			_keel_failed=$((_keel_failed + 1))
		fi
	done <<<"$out"
	: >"$expects"
}

# taint_case OP WHAT CMD...: a fresh $V, changed by CMD (which may name
# $V.moved as its new name): an exec.taint OP, and the file is refused
taint_case() {
	local op=$1 what=$2
	shift 2
	fresh "$V" || return 1
	expect exec.taint "$V" "$op" changed "$what"
	"$@" || { echo "the change failed: $*"; return 1; }
	local f=$V out
	[ -e "$V.moved" ] && f=$V.moved
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		out=$(refused "$f") && return 0
		# io_uring puts its files shortly after the ring is gone
		grep -q "Text file busy" <<<"$out" || break
		sleep 0.2
	done
	echo "$out"
	return 1
}

# trusted_with FILE CMD...: an untrusted copy of true at FILE, given
# attributes by CMD (no taint: not trusted yet), then trusted with trust add
trusted_with() {
	local f=$1
	shift
	cp /bin/true "$f" && "$@" && "$KEELCTL" trust add "$f" >/dev/null && "$f"
}

for fs in tmpfs ext4; do
	D=$T/$fs
	note "$fs: changes to a trusted file (at $SECONDS s)"
	for how in "uring-write" "uring-write async" "uring-openat-write" \
		"uring-openat-write async" "uring-openat-write fixed"; do
		new_victim
		set -- $how
		check "$fs: io_uring $how: refused afterwards" \
			taint_case open_write "$fs: io_uring $how" "$H" "$1" "$V" ${2:+"$2"}
	done
	new_victim
	check "$fs: IORING_OP_FSETXATTR on a read-only descriptor: refused afterwards" \
		taint_case xattr "$fs: IORING_OP_FSETXATTR" "$H" uring-fsetxattr "$V"
	new_victim
	check "$fs: IORING_OP_LINKAT: refused afterwards" \
		taint_case link "$fs: IORING_OP_LINKAT" "$H" uring-link "$V" "$V.link"
	new_victim
	check "$fs: IORING_OP_RENAMEAT: refused at its new name" \
		taint_case rename "$fs: IORING_OP_RENAMEAT" "$H" uring-rename "$V" "$V.moved"
	for how in chown fchown lchown fchownat-empty chown-same; do
		new_victim
		check "$fs: $how (to 1:1; chown-same: to its own owner): refused afterwards" \
			taint_case setattr "$fs: $how" "$H" "$how" "$V"
	done
	new_victim
	fresh "$V"
	ln -s "$V" "$D/symlink$k"
	expect_none exec.taint "$V" setattr "$fs: lchown of a symbolic link to it"
	"$H" lchown "$D/symlink$k"
	check "$fs: lchown of a symbolic link to it: the target still runs" "$V"

	names="security.keel"
	[ "$fs" = ext4 ] && names="$names user.keel"
	for name in $names; do
		for how in removexattr lremovexattr fremovexattr; do
			new_victim
			check "$fs: a file with $name, trusted (trust add)" \
				trusted_with "$V" "$H" setxattr "$name" "$V" || continue
			expect exec.taint "$V" xattr changed "$fs: $how $name"
			"$H" "$how" "$name" "$V"
			check "$fs: $how $name: refused afterwards" refused "$V"
		done
	done
	new_victim
	if check "$fs: a file with security.capability (CAP_NET_RAW), trusted" \
		trusted_with "$V" "$H" setcap "$V"; then
		expect exec.taint "$V" xattr changed "$fs: removexattr security.capability"
		"$H" removexattr security.capability "$V"
		check "$fs: removexattr security.capability: refused afterwards" refused "$V"
	fi
	new_victim
	check "$fs: POSIX ACL (system.posix_acl_access, user 1 r-x): refused afterwards" \
		taint_case xattr "$fs: setxattr system.posix_acl_access" "$H" setacl "$V"
	# file flags have no LSM hook: see exec_fileattr_begin in bpf/exec.bpf.c
	cp /bin/true "$D/probe"
	for how in setflags:FS_IOC_SETFLAGS fssetxattr:FS_IOC_FSSETXATTR; do
		new_victim
		if "$H" "${how%:*}" "$D/probe" >/dev/null; then
			check "$fs: ioctl ${how#*:} (as chattr does): refused afterwards" \
				taint_case setattr "$fs: ioctl ${how#*:}" "$H" "${how%:*}" "$V"
		else
			note "$fs: ioctl ${how#*:}: not supported by this file system"
		fi
	done

	note "$fs: changes the kernel refuses leave the trust alone"
	new_victim
	check "$fs: a file with security.keel and security.capability, trusted" \
		trusted_with "$V" sh -c "$H setxattr security.keel $V && $H setcap $V"
	for op in setattr xattr; do
		expect_none exec.taint "$V" "$op" "$fs: changes the kernel refused"
	done
	for how in fchmod fchown futimens setflags fsetxattr fremovexattr fremovecap; do
		check "$fs: $how by uid 65534 on root's trusted file: the kernel refuses it" \
			"$H" nobody "$how" "$V"
	done
	check "$fs: removexattr of an attribute it does not have fails" \
		sh -c "! $H removexattr user.absent $V"
	check "$fs: setxattr XATTR_REPLACE of an attribute it does not have fails" \
		sh -c "! $H setxattr-replace security.absent $V"
	check "$fs: after these refused changes the file still runs" "$V"

	note "$fs: rename onto a trusted path"
	new_victim
	R=$V
	fresh "$R"
	cp /bin/true "$D/new"
	exec 7<"$R"
	expect exec.taint "$R" rename changed "$fs: mv onto a trusted file: the inode it replaces"
	mv -f "$D/new" "$R"
	check "$fs: mv onto it: the new file at the path is refused" refused "$R"
	expect exec.deny "$R" exec untrusted "$fs: mv onto it: the new file at the path"
	check "$fs: mv onto it: the replaced inode, open but nameless, is refused" \
		refused "/proc/$$/fd/7"
	expect exec.deny "/proc/$$/fd/7" exec deleted "$fs: mv onto it: the replaced inode"
	exec 7<&-

	new_victim
	R=$V
	fresh "$R"
	ln "$R" "$R.other"
	check "$fs: a file with two names trusted again (trust add)" "$KEELCTL" trust add "$R"
	check "$fs: it runs by its second name" "$R.other"
	cp /bin/true "$D/new"
	expect exec.taint "$R" rename changed "$fs: IORING_OP_RENAMEAT onto a trusted file"
	"$H" uring-rename "$D/new" "$R"
	check "$fs: the replaced inode, still named, is refused by that name" refused "$R.other"
	expect exec.deny "$R.other" exec untrusted "$fs: the replaced inode, still named"
	check "$fs: the new file at the path is refused" refused "$R"

	new_victim
	fresh "$V"
	cp /bin/true "$V.moved"
	check "$fs: RENAME_EXCHANGE of a trusted file with an untrusted one" \
		"$H" exchange "$V" "$V.moved"
	check "$fs: exchanged: the untrusted inode now at the trusted path is refused" \
		refused "$V"
	check "$fs: exchanged: the trusted inode, at the other name, lost its trust" \
		refused "$V.moved"

	new_victim
	fresh "$V"
	fresh "$V.moved"
	mv -f "$V.moved" "$V"
	check "$fs: a trusted file moved onto another trusted one: refused (both tainted)" \
		refused "$V"

	note "$fs: execveat"
	fresh "$D/good"
	cp /bin/true "$D/copied"
	check "$fs: execveat(dirfd, \"good\") of a trusted file runs" "$H" execveat-dir "$D" good
	check "$fs: execveat(dirfd, \"copied\") of an untrusted file is refused" \
		refused "$H" execveat-dir "$D" copied
	check "$fs: execveat(fd, \"\", AT_EMPTY_PATH) of a trusted file runs" \
		"$H" execveat-fd "$D/good"
	check "$fs: the same through an O_PATH descriptor runs" "$H" execveat-fd "$D/good" opath
	check "$fs: execveat(fd, \"\", AT_EMPTY_PATH) of an untrusted file is refused" \
		refused "$H" execveat-fd "$D/copied"
	check "$fs: the same through an O_PATH descriptor is refused" \
		refused "$H" execveat-fd "$D/copied" opath
	expect exec.deny "$D/copied" exec untrusted "$fs: execveat of an untrusted file"
	new_victim
	fresh "$V"
	check "$fs: execveat AT_EMPTY_PATH of a trusted file unlinked after the open is refused" \
		refused "$H" execveat-unlinked "$V"
	new_victim
	fresh "$V"
	"$H" uring-write "$V"
	check "$fs: execveat AT_EMPTY_PATH of a trusted file written through io_uring is refused" \
		refused "$H" execveat-fd "$V"

	note "$fs: O_TMPFILE"
	check "$fs: O_TMPFILE file linked in through /proc/self/fd" \
		"$H" tmpfile-link "$D" tmp1 /bin/true proc &&
		check "$fs: it is refused" refused "$D/tmp1"
	check "$fs: O_TMPFILE file linked in with linkat(fd, \"\", AT_EMPTY_PATH)" \
		"$H" tmpfile-link "$D" tmp2 /bin/true empty &&
		check "$fs: it is refused" refused "$D/tmp2"
	check "$fs: O_TMPFILE copy of a trusted file linked in" \
		"$H" tmpfile-link "$D" tmp3 "$D/good" empty &&
		check "$fs: same content, another inode: refused" refused "$D/tmp3"
	expect exec.deny "$D/tmp3" exec untrusted "$fs: O_TMPFILE file linked in"
	check "$fs: an O_TMPFILE file executed before it has a name is refused" \
		refused "$H" tmpfile-exec "$D" "$D/good"
	check "$fs: the linked O_TMPFILE file, trusted with trust add, then runs" \
		sh -c "$KEELCTL trust add $D/tmp3 >/dev/null && $D/tmp3"
	check_events
done

# --- a stale store row does not own its old inode's trust -----------------
# A file renamed away (its row at the old name is tainted) and trusted again
# at its new name (trust add) belongs to the new row: installing a new file
# at the old name, removing the old name's row, or an installer writing a
# file there must leave it trusted.  (Each used to delete the kernel entry
# by the old row's inode: KEEL_SEED=6766's step 177.)
for fs in tmpfs ext4; do
	D=$T/$fs
	note "$fs: stale rows and the trust of a renamed file"
	for how in install remove installer; do
		fresh "$D/old-$how" && mv "$D/old-$how" "$D/new-$how" &&
			"$KEELCTL" trust add "$D/new-$how" >/dev/null ||
			{ check "$fs: $how: setup" false; continue; }
		case $how in
		install) "$KEELCTL" install /bin/true "$D/old-$how" >/dev/null ;;
		remove) "$KEELCTL" trust remove "$D/old-$how" >/dev/null ;;
		installer) "$KEELCTL" run-installer -- cp /bin/true "$D/old-$how" >/dev/null ;;
		esac || check "$fs: $how at the old name" false
		check "$fs: renamed, trusted again at its new name, then $how at the old name: it still runs" \
			"$D/new-$how"
		check "$fs: ... and by execveat AT_EMPTY_PATH" "$H" execveat-fd "$D/new-$how"
	done
done

# --- randomized: installs, changes, renames, hard links, executions ---------
# The model: each name holds an inode (a number given here), each inode is
# trusted or not.  Installing trusts a new inode at a name and taints the
# one it replaces; trust add trusts a name's inode (every name of it); any
# change, a rename (of it or onto it), a hard link or an unlink taints it;
# renaming a name onto another name of the same inode does nothing.
steps=${KEEL_EXEC_STEPS:-200}
# make check runs one fixed sequence, so that its result is reproducible;
# KEEL_SEED="N M ..." runs those sequences in turn, KEEL_SEED=random
# another.  KEEL_SEED=6766 failed at step 177 until keeld stopped removing
# the trust of an inode through a stale row (the section above).
methods=(append uring-write uring-openat-write chmod chown-same truncate-same setxattr touch)
fsys=(tmpfs ext4)
random_run() {	# SEED
	seed=$1
	[ "$seed" = random ] && seed=$$
	RANDOM=$seed
	note "randomized sequence: $steps steps, seed $seed (KEEL_SEED=$seed replays it), at $SECONDS s"
	steplog=$T/random-steps-$seed.log	# printed on a mismatch: what led to it
	unset ino_of trust
	declare -gA ino_of=() trust=()
	next=0 bad=0 runs=0 refusals=0
	for fs in "${fsys[@]}"; do mkdir "$T/$fs/r$seed"; done
	taint_name() {	# NAME: the model's taint of NAME's inode
		[ -n "${ino_of[$1]:-}" ] && trust[${ino_of[$1]}]=0
		return 0
	}
	for i in $(seq 1 "$steps"); do
		d=$T/${fsys[RANDOM % 2]}/r$seed
		f=$d/n$((RANDOM % 3))
		g=$d/n$((RANDOM % 3))
		op=$((RANDOM % 20))
		if [ -z "${ino_of[$f]:-}" ] && [ "$op" -ge 3 ] && [ "$op" -lt 19 ]; then
			op=0	# nothing there: install instead
		fi
		echo "step $i: op $op f $f (inode ${ino_of[$f]:-none}) g $g (inode ${ino_of[$g]:-none})" >>"$steplog"
		case $op in
		0 | 1 | 2)
			if ! "$KEELCTL" install /bin/true "$f" >/dev/null; then
				echo "  step $i: keelctl install $f failed"; bad=1; continue
			fi
			taint_name "$f"
			next=$((next + 1)); ino_of[$f]=$next; trust[$next]=1 ;;
		3)
			"$KEELCTL" trust add "$f" >/dev/null || { echo "  step $i: trust add $f failed"; bad=1; }
			trust[${ino_of[$f]}]=1 ;;
		4 | 5 | 6 | 7)
			m=${methods[RANDOM % ${#methods[@]}]}
			echo "  change by $m" >>"$steplog"
			case $m in
			append) echo >>"$f" ;;
			chmod) chmod 0755 "$f" ;;
			touch) touch "$f" ;;
			setxattr) "$H" setxattr security.keel "$f" ;;
			*) "$H" "$m" "$f" ;;
			esac || { echo "  step $i: $m $f failed"; bad=1; }
			taint_name "$f" ;;
		8 | 9 | 10 | 11 | 12 | 13 | 14)
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
	note "randomized: $runs runs, $refusals refusals, $next inodes, at $SECONDS s"
	# (bash builtins only: in enforce mode tail and the like are not trusted here)
	if [ "$bad" != 0 ]; then
		echo "  the last 30 steps:"
		mapfile -t lines <"$steplog"
		for ((j = ${#lines[@]} > 30 ? ${#lines[@]} - 30 : 0; j < ${#lines[@]}; j++)); do
			echo "    ${lines[j]}"
		done
	fi
	check_eq "randomized (seed $seed): every run and refusal matched the model" 0 "$bad"
	check "randomized (seed $seed): the sequence both ran and refused files" \
		test "$runs" -gt 0 -a "$refusals" -gt 0
}
for sd in ${KEEL_SEED:-1}; do
	random_run "$sd"
done

check "keelctl exec mode audit" "$KEELCTL" exec mode audit
keeld_stop
check_eq "keeld exits 0" 0 "$KEELD_STATUS"
