# SPDX-License-Identifier: GPL-2.0-only
# Set-up the exec tests repeat: source after lib.sh and keeld.sh.
#
#   exec_files TOOL|PATH...   print each program (a name is looked up in
#                             PATH), the shared libraries and loader ldd
#                             lists for it, as real paths, once each
#   exec_trust TOOL|PATH...   keelctl trust add all of exec_files, quietly;
#                             one check line saying how many were trusted
#
# ldd prints "name => /path (addr)" for a library, "/path (addr)" for the
# loader, and "FILE:" labels when given several files: only the paths count.

exec_files() {
	local f
	for f in "$@"; do
		[ "${f#/}" = "$f" ] && f=$(command -v "$f")
		echo "$f"
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
