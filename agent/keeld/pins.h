/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A subsystem's pins: its maps and links under <[bpf] pin_dir>/<subsystem>/,
 * where bpftool finds them (bpftool map dump pinned ...).  Every subsystem
 * pins and unpins through these, so the directory, the names
 * (<map name>, <program name>_link) and the error messages are the same
 * for all.
 *
 * Most subsystems start fresh: keel_pins_open(KEEL_PINS_FRESH) removes
 * what a keeld that crashed left, then they pin what bpftool should see
 * and keel_pins_remove() at stop.  exec keeps its pins across restarts
 * (KEEL_PINS_REUSE): keel_pins_reuse_maps() before loading, keel_pins_links()
 * after attaching (see agent/exec/guard.h).
 */
#ifndef KEEL_PINS_H
#define KEEL_PINS_H

#include <bpf/libbpf.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct keel_subsys;

struct keel_pins {
	char root[256];	    /* [bpf] pin_dir (128 bytes at most) */
	char dir[PATH_MAX]; /* root/<subsystem> */
	bool made;	    /* dir exists: keel_pins_remove() has work to do */
};

enum keel_pins_mode {
	KEEL_PINS_FRESH, /* remove what a previous keeld left in the directory */
	KEEL_PINS_REUSE, /* keep it, for keel_pins_reuse_maps() */
};

/*
 * Make <pin_dir>/<s's name>/ (and <pin_dir> itself, which must be on a
 * bpffs).  Calling it again once made does nothing.  0, or a negative
 * errno with what failed in @why.
 */
int keel_pins_open(struct keel_pins *pins, const struct keel_subsys *s, enum keel_pins_mode mode,
		   char *why, size_t len);
/* Pin @map as <dir>/<its name>. */
int keel_pins_map(struct keel_pins *pins, struct bpf_map *map, char *why, size_t len);
/* Pin @link of program @prog as <dir>/<prog>_link, replacing an older pin. */
int keel_pins_link(struct keel_pins *pins, struct bpf_link *link, const char *prog, char *why,
		   size_t len);
/*
 * Before loading @obj: every map of @obj already pinned in the directory
 * with the same shape is reused by libbpf at load (its contents kept); one
 * with another shape is replaced; the others are pinned at load.  -EPERM
 * when a pin exists but may not be opened.
 */
int keel_pins_reuse_maps(struct keel_pins *pins, struct bpf_object *obj, char *why, size_t len);
/*
 * After attaching the programs of @skels: pin each attached link in place
 * of the older one (the older program stays attached until then: no
 * window), and remove the pins that none of @skels' maps and links use
 * any more.
 */
int keel_pins_links(struct keel_pins *pins, struct bpf_object_skeleton *const *skels, int n,
		    char *why, size_t len);
/*
 * Unpin everything in the directory, remove it, and <pin_dir> too once no
 * subsystem has pins left.  Safe on a zeroed one.
 */
void keel_pins_remove(struct keel_pins *pins);

#endif /* KEEL_PINS_H */
