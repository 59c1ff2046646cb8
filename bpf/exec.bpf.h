/* SPDX-License-Identifier: GPL-2.0-only */
/* Inode identity and change stamp, across the kernels keel runs on. */
#ifndef KEEL_EXEC_BPF_H
#define KEEL_EXEC_BPF_H

/* Up to 6.5: struct timespec64 i_ctime */
struct inode___ts {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

/* 6.6 to 6.10: struct timespec64 __i_ctime */
struct inode___uts {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

/* 6.11 on: i_ctime_sec, i_ctime_nsec (vmlinux.h's own layout) */
struct inode___split {
	time64_t i_ctime_sec;
	u32 i_ctime_nsec;
} __attribute__((preserve_access_index));

static __always_inline void inode_ctime(struct inode *inode, __s64 *sec, __u32 *nsec)
{
	if (bpf_core_field_exists(struct inode___split, i_ctime_sec)) {
		struct inode___split *i = (void *)inode;

		*sec = BPF_CORE_READ(i, i_ctime_sec);
		*nsec = BPF_CORE_READ(i, i_ctime_nsec);
	} else if (bpf_core_field_exists(struct inode___uts, __i_ctime)) {
		struct inode___uts *i = (void *)inode;

		*sec = BPF_CORE_READ(i, __i_ctime.tv_sec);
		*nsec = BPF_CORE_READ(i, __i_ctime.tv_nsec);
	} else {
		struct inode___ts *i = (void *)inode;

		*sec = BPF_CORE_READ(i, i_ctime.tv_sec);
		*nsec = BPF_CORE_READ(i, i_ctime.tv_nsec);
	}
}

static __always_inline void inode_key(struct inode *inode, struct keel_exec_key *key)
{
	key->ino = BPF_CORE_READ(inode, i_ino);
	key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	key->gen = BPF_CORE_READ(inode, i_generation);
}

/* i_version without its low "queried" bit, which a mere query sets */
static __always_inline __u64 inode_version(struct inode *inode)
{
	return (__u64)BPF_CORE_READ(inode, i_version.counter) >> 1;
}

/*
 * Same ctime and i_version as when the file was trusted?  ctime moves on
 * every content or metadata change, whoever makes it and whether or not
 * keel was watching; i_version (when the file system keeps it) also
 * catches two changes within one ctime tick.
 */
static __always_inline bool stamp_matches(struct inode *inode, const struct keel_exec_trust *t)
{
	__s64 sec;
	__u32 nsec;

	inode_ctime(inode, &sec, &nsec);
	if (sec != t->ctime_sec || nsec != t->ctime_nsec)
		return false;
	return inode_version(inode) == t->i_version;
}

#endif /* KEEL_EXEC_BPF_H */
