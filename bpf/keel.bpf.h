/* SPDX-License-Identifier: GPL-2.0-only */
/* Helpers shared by keel's BPF programs. */
#ifndef KEEL_BPF_H
#define KEEL_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "keel/records.h"

/* Not in vmlinux.h: these are #defines in the UAPI headers. */
#define KEEL_TC_ACT_OK	  0
#define KEEL_REQ_OP_MASK  ((1 << 8) - 1)
#define KEEL_REQ_OP_READ  0
#define KEEL_REQ_OP_WRITE 1

#endif /* KEEL_BPF_H */
