/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * blk's parts, each in its own header: disk identity (diskid.h), the
 * per-disk model (model.h), the trace recorder (record.h).  The subsystem
 * glue is blk.c.  Users outside blk include the one they need; this header
 * stays for those that include all three.
 */
#ifndef KEEL_AGENT_BLK_H
#define KEEL_AGENT_BLK_H

#include "blk/diskid.h"
#include "blk/model.h"
#include "blk/record.h"

#endif /* KEEL_AGENT_BLK_H */
