// SPDX-License-Identifier: GPL-2.0-only
/* The [exec] keys: type, range, default and the help --print-config shows. */
#include <errno.h>
#include <stdio.h>

#include "exec/exec_config.h"

#define T struct exec_config

const struct keel_opt exec_options[] = {
	KEEL_OPT_ENABLED(T, "observe program execution through BPF LSM"),
	KEEL_OPT_REQUIRED(T, "exit with an error when exec cannot run"),
	KEEL_OPT_STRING(T, "mode", mode, "audit",
			"audit: allow untrusted code and report it; enforce: refuse it (EPERM); "
			"used until 'keelctl exec mode' stores another in the trust store"),
	KEEL_OPT_STRING(T, "trust_db", trust_db, "/var/lib/keel/trust.db",
			"the trust store (SQLite): every file the approved installer trusted"),
	KEEL_OPT_UINT(T, "max_trusted", max_trusted, 1024, 16777216, "1048576",
		      "trusted files the kernel map holds"),
	KEEL_OPT_STRING(
		T, "installers", installers, "/usr/bin/dpkg",
		"approved installers, full paths separated by commas (at most 16): while one "
		"runs, what its process tree writes becomes trusted when closed; empty: none"),
	KEEL_OPT_UINT(
		T, "max_installing", max_installing, 16, 1048576, "4096",
		"files installers may have open for writing at once; beyond, they stay untrusted"),
	KEEL_OPT_STRING(
		T, "jits", jits,
		"/usr/bin/qemu-system-x86_64,/usr/bin/qemu-system-i386,"
		"/usr/bin/qemu-system-x86_64-microvm",
		"programs that may make anonymous memory executable (JITs; QEMU's TCG), full "
		"paths separated by commas (at most 16); in enforce mode anything else is "
		"refused; empty: none"),
	KEEL_OPT_STRING(T, "tracers", tracers, "/usr/bin/gdb,/usr/bin/strace",
			"programs that may ptrace other processes, write /proc/PID/mem and use "
			"process_vm_writev, full paths separated by commas (at most 16); in enforce "
			"mode anything else is refused; empty: none"),
	KEEL_OPT_UINT(T, "ring_buffer_kib", ring_buffer_kib, 4, 65536, "1024",
		      "KiB of the kernel's exec record ring buffer (a power of two); records that "
		      "do not fit while keeld is busy are lost and counted in exec.dropped"),
	KEEL_OPT_STRING(T, "interpreters", interpreters,
			"/usr/bin/python3,/usr/bin/perl,/usr/bin/bash,/usr/bin/dash",
			"interpreters whose script (the file named on their command line, or a file "
			"on standard input) must be trusted when they are run directly, full paths "
			"separated by commas (at most 16); empty: none"),
	KEEL_OPT_STRING(
		T, "strict_interpreters", strict_interpreters, "",
		"interpreters that may open for reading only trusted files, data included "
		"(covers '. x.sh' and 'source'), full paths separated by commas (at most 16); "
		"empty: none"),
	KEEL_OPT_BOOL(T, "allow_kexec_load", allow_kexec_load, "false",
		      "allow kexec_load (a kernel from memory, no file to check; kexec-tools "
		      "without -s) in enforce mode; kexec_file_load is always checked"),
	KEEL_OPT_BOOL(T, "check_firmware", check_firmware, "true",
		      "firmware files the kernel reads for devices must be trusted in enforce "
		      "mode (and the sysfs fallback, with no file, is refused); false: not checked"),
	KEEL_OPT_STRING(
		T, "unstable_fs", unstable_fs,
		"9p,virtiofs,vboxsf,fuse,fuseblk,nfs,nfs4,cifs,smb3,ceph,afs,coda,orangefs,"
		"gfs2,ocfs2,squashfs,iso9660,udf,erofs,cramfs,romfs",
		"file system types (/proc/filesystems) whose content can change unseen by keel "
		"(images, servers, FUSE, cluster file systems): keeld trusts no file there, and "
		"in enforce mode none runs; at most 32"),
	KEEL_OPT_STRING(
		T, "allow_unstable_fs", allow_unstable_fs, "",
		"types taken back from unstable_fs: files there may be trusted and run (a host "
		"whose root is on NFS: nfs4); comma-separated, at most 32; empty: none"),
	KEEL_OPT_END
};

int exec_check_config(const void *config, char *key, size_t keylen, char *msg, size_t msglen)
{
	const struct exec_config *c = config;
	int err;

	/* the kernel refuses a ring buffer that is not a power-of-two number of pages */
	if (c->ring_buffer_kib & (c->ring_buffer_kib - 1)) {
		snprintf(key, keylen, "ring_buffer_kib");
		snprintf(msg, msglen, "%u is not a power of two", c->ring_buffer_kib);
		return -EINVAL;
	}
	err = exec_fs_check_config(c, key, keylen, msg, msglen);
	if (err)
		return err;
	return 0;
}
