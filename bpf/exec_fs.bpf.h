/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Trust ends with the file system instance.  Included by exec.bpf.c.
 *
 * A trusted entry's key is (s_dev, inode, generation): unique only while
 * the superblock lives.  Once it is shut down (the last unmount, a lazy
 * one once its last file is closed) s_dev is free for the next mount, and
 * a file system whose inode numbers, generations and times are those of
 * the old one (a copy of the same image on the same loop device, an image
 * or a server built to match) would reproduce the key and the stamp.  So
 * when a superblock is shut down, every entry on its device is dropped,
 * before the kernel releases the device number (generic_shutdown_super
 * runs first in every kill_sb), and one record tells keeld, which marks
 * the device's store rows tainted (docs/exec.md, "File systems").
 */
#ifndef KEEL_EXEC_FS_BPF_H
#define KEEL_EXEC_FS_BPF_H

/*
 * Devices that may hold trusted entries: every device keeld opened a file
 * on (it trusts only what it opened) and every device an installer wrote
 * to.  A shutdown on another device costs one lookup.  When full, the
 * shutdown of an unknown device scans the trust map anyway (fails closed).
 */
#define EXEC_FS_DEVS_MAX 4096

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EXEC_FS_DEVS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} exec_trusted_devs SEC(".maps");

/* Set once exec_trusted_devs could not take a device: every shutdown scans. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} exec_trusted_devs_full SEC(".maps");

struct fs_gone {
	__u32 dev;
	__u32 dropped;
};

static long fs_gone_trusted(struct bpf_map *map, struct keel_exec_key *key,
			    struct keel_exec_trust *val, struct fs_gone *ctx)
{
	if (key->dev == ctx->dev && !bpf_map_delete_elem(map, key))
		ctx->dropped++;
	return 0;
}

static long fs_gone_installing(struct bpf_map *map, struct keel_exec_key *key,
			       struct keel_exec_installing *val, struct fs_gone *ctx)
{
	if (key->dev == ctx->dev && !bpf_map_delete_elem(map, key))
		ctx->dropped++;
	return 0;
}

static __always_inline void note_dev(__u32 dev)
{
	__u32 one = 1, zero = 0, *full;

	if (bpf_map_lookup_elem(&exec_trusted_devs, &dev))
		return;
	if (bpf_map_update_elem(&exec_trusted_devs, &dev, &one, BPF_NOEXIST) == -E2BIG) {
		full = bpf_map_lookup_elem(&exec_trusted_devs_full, &zero);
		if (full)
			*full = 1;
	}
}

/* Remember the device of a file keeld opens, or an installer writes. */
SEC("lsm/file_open")
int BPF_PROG(exec_fs_note, struct file *file)
{
	struct keel_exec_state *st = state();

	if (!(st && st->keeld_tgid == (__u32)(bpf_get_current_pid_tgid() >> 32)) &&
	    !((BPF_CORE_READ(file, f_mode) & FMODE_WRITE) && cur_installer()))
		return 0;
	note_dev(BPF_CORE_READ(file, f_inode, i_sb, s_dev));
	return 0;
}

SEC("fentry/generic_shutdown_super")
int BPF_PROG(exec_fs_gone, struct super_block *sb)
{
	struct fs_gone gone = { .dev = BPF_CORE_READ(sb, s_dev) };
	struct keel_exec_key key = { .dev = gone.dev };
	__u32 zero = 0, *full;

	full = bpf_map_lookup_elem(&exec_trusted_devs_full, &zero);
	if (!bpf_map_lookup_elem(&exec_trusted_devs, &gone.dev) && !(full && *full))
		return 0;
	bpf_for_each_map_elem(&exec_trusted, fs_gone_trusted, &gone, 0);
	bpf_for_each_map_elem(&exec_installing, fs_gone_installing, &gone, 0);
	bpf_map_delete_elem(&exec_trusted_devs, &gone.dev);
	/* one record: keeld taints the device's rows (key.ino 0: all of them) */
	emit(KEEL_EXEC_OP_UNMOUNT, KEEL_EXEC_R_CHANGED, KEEL_EXEC_D_TAINT, &key, NULL, NULL);
	return 0;
}

#endif /* KEEL_EXEC_FS_BPF_H */
