#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# `make install` installs all of keel into a fresh root (DESTDIR): keeld,
# keelctl, keel-cachesim, keel-vdisk and its plugin, keel-rcache, the unit
# (its paths following PREFIX), the example configuration, the manual pages
# keeld(8), keelctl(1), keel-cachesim(1), keel-vdisk(1), keel-rcache(8),
# keel.conf(5) (each renders with man), bash completion for keelctl (commands, verbs and options read
# from keelctl's own --help), and the docs.
. "$(dirname "$0")/../integration/lib.sh"
need_cmd man help2man
root=$KEEL_TMP/root
check "make install DESTDIR=... succeeds" make -s -C "$KEEL_TOP" install DESTDIR="$root" PREFIX=/usr/local
for f in sbin/keeld bin/keelctl bin/keel-cachesim bin/keel-vdisk sbin/keel-rcache \
	lib/keel/nbdkit-keel-plugin.so share/man/man8/keeld.8 share/man/man1/keelctl.1 \
	share/man/man1/keel-cachesim.1 share/man/man1/keel-vdisk.1 share/man/man8/keel-rcache.8 \
	share/man/man5/keel.conf.5 \
	share/bash-completion/completions/keelctl share/doc/keel/operations.md; do
	check "installed: /usr/local/$f" test -s "$root/usr/local/$f"
done
check "installed: the unit" test -s "$root/etc/systemd/system/keeld.service"
check_eq "the unit runs the installed keeld (its paths follow PREFIX)" "ExecStart=/usr/local/sbin/keeld -q" \
	"$(grep '^ExecStart=' "$root/etc/systemd/system/keeld.service")"
check "installed: the example configuration" test -s "$root/etc/keel/keel.conf.example"
for p in man8/keeld.8 man1/keelctl.1 man1/keel-cachesim.1 man1/keel-vdisk.1 man8/keel-rcache.8 man5/keel.conf.5; do
	check "man renders $p with a NAME section" \
		sh -c "MANWIDTH=80 man -l '$root/usr/local/share/man/$p' 2>/dev/null | grep -q '^NAME'"
done
check "keel.conf(5) documents [events] file and [metrics] listen" \
	sh -c "man -l '$root/usr/local/share/man/man5/keel.conf.5' 2>/dev/null | grep -q '^\[metrics\]' &&
	       man -l '$root/usr/local/share/man/man5/keel.conf.5' 2>/dev/null | grep -q 'file_max_bytes'"

# completion, against the built keelctl
complete_words() {	# WORDS...: what completing the last word offers
	PATH=$KEEL_BUILD:$PATH bash -c '. "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
		_keelctl; echo "${COMPREPLY[*]}"' \
		"$root/usr/local/share/bash-completion/completions/keelctl" keelctl "$@"
}
check_eq "keelctl <TAB>: every command of keelctl --help" \
	"$("$KEEL_BUILD/keelctl" --help | sed -n '/^COMMANDS:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p' | tr '\n' ' ' | sed 's/ $//')" \
	"$(complete_words "")"
check_eq "keelctl tr<TAB>" trust "$(complete_words tr)"
check_eq "keelctl trust <TAB>: its verbs" "add import-dpkg list remove verify" "$(complete_words trust "")"
check_eq "keelctl subsystem <TAB>" "start stop" "$(complete_words subsystem "")"
check_eq "keelctl subsystem stop b<TAB>" blk "$(complete_words subsystem stop b)"
check_eq "keelctl events --f<TAB>" --follow "$(complete_words events --f)"
