# SPDX-License-Identifier: GPL-2.0-only
# Set-up the exec tests repeat: source after lib.sh and keeld.sh.
#
#   exec_files TOOL|PATH... [--libs-of PATH...]
#                             print each program (a name is looked up in
#                             PATH), the shared libraries and loader ldd
#                             lists for it, as real paths, once each; of a
#                             PATH after --libs-of only its libraries and
#                             loader (a program the test installs with
#                             keelctl install, keeld or a helper, whose
#                             libraries must be trusted beforehand)
#   exec_trust TOOL|PATH... [--libs-of PATH...]
#                             keelctl trust add all of exec_files, quietly;
#                             one check line saying how many were trusted
#   exec_enforced CMD...      run CMD in enforce mode, then back to audit;
#                             CMD's output (stdout and stderr) on stdout
#   exec_image_script DIR     an 8 MiB ext4 image DIR/a.img on a loop device
#                             ($loop, detached at exit), mounted on DIR/mnt,
#                             and a script keelctl installs there as
#                             DIR/mnt/prog, printing RAN-FROM-IMAGE-AAAA
#                             (the text the file-system tests change in place)
#
# ldd prints "name => /path (addr)" for a library, "/path (addr)" for the
# loader, and "FILE:" labels when given several files: only the paths count.

exec_files() {
	local f libs_only=
	for f in "$@"; do
		if [ "$f" = --libs-of ]; then
			libs_only=1
			continue
		fi
		[ "${f#/}" = "$f" ] && f=$(command -v "$f")
		[ -n "$libs_only" ] || echo "$f"
		ldd "$f" 2>/dev/null |
			awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done | xargs -r realpath | sort -u
}

exec_trust() {
	local files
	mapfile -t files < <(exec_files "$@")
	check "trust add: ${#files[@]} programs and libraries of this test" \
		sh -c '"$0" trust add "$@" >/dev/null' "$KEELCTL" "${files[@]}"
}

exec_enforced() {
	"$KEELCTL" exec mode enforce >/dev/null || return 1
	"$@" 2>&1
	"$KEELCTL" exec mode audit >/dev/null
}

exec_image_script() {
	local dir=$1
	mkdir -p "$dir/mnt"
	on_exit "umount '$dir/mnt' 2>/dev/null; [ -n \"\${loop:-}\" ] && losetup -d \"\$loop\" 2>/dev/null"
	truncate -s 8M "$dir/a.img"
	mkfs.ext4 -q -F "$dir/a.img" || die "mkfs.ext4"
	loop=$(losetup --find --show "$dir/a.img") || die "losetup"
	mount -t ext4 "$loop" "$dir/mnt" || die "mount $loop"
	printf '#!/bin/sh\necho RAN-FROM-IMAGE-AAAA\n' >"$dir/prog"
	check "keelctl install a script on the image ($loop)" \
		"$KEELCTL" install --mode 0755 "$dir/prog" "$dir/mnt/prog" || exit 1
}
