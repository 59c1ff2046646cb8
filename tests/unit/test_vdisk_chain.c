// SPDX-License-Identifier: GPL-2.0-only
/* The filter chain: metadata, entry points, counters, refusals. */
#include "vdisk/vdisk_priv.h"
#include "vdisk_util.h"

#define MiB (1u << 20)

static struct keel_vfilter_counters counters(struct tdisk *t, const char *name)
{
	struct keel_vfilter_counters c;

	keel_vfilter_counters(tdisk_at(t, name), &c);
	return c;
}

Test(vdisk_chain, no_metadata_is_the_vmdk_alone)
{
	struct tdisk t;
	char w[8192], r[8192];

	tdisk_make(&t, 4 * MiB, NULL);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vdisk_nfilters(t.d), 1);
	cr_assert_str_eq(keel_vfilter_name(keel_vdisk_top(t.d)), "vmdk");
	cr_assert_eq(keel_vdisk_size(t.d), 4 * MiB);
	fill(w, sizeof(w), 1);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), w, sizeof(w), MiB, 0), 0);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), r, sizeof(r), MiB), 0);
	cr_assert_arr_eq(r, w, sizeof(w));
	cr_log_info("checked: no IMAGE.keel -> chain [vmdk], 8 KiB round trip");
	tdisk_cleanup(&t);
}

Test(vdisk_chain, order_comes_from_metadata_and_entry_skips_the_filters_above)
{
	struct tdisk t;
	char buf[4096];

	tdisk_make(&t, 4 * MiB, "disk_id = x\n[vdisk]\nfilters = stats, throttle integrity\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vdisk_nfilters(t.d), 4);
	cr_assert_str_eq(keel_vfilter_name(keel_vdisk_filter(t.d, 0)), "stats");
	cr_assert_str_eq(keel_vfilter_name(keel_vdisk_filter(t.d, 1)), "throttle");
	cr_assert_str_eq(keel_vfilter_name(keel_vdisk_filter(t.d, 2)), "integrity");
	cr_assert_str_eq(keel_vfilter_name(keel_vdisk_filter(t.d, 3)), "vmdk");

	fill(buf, sizeof(buf), 2);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, sizeof(buf), 0, 0), 0);
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "throttle"), buf, sizeof(buf), 0), 0);
	cr_assert_eq(keel_vfilter_pread(tdisk_at(&t, "integrity"), buf, 512, 4096), 0);
	cr_assert_eq(counters(&t, "stats").writes, 1);
	cr_assert_eq(counters(&t, "stats").reads, 0, "a read entering below stats passed it");
	cr_assert_eq(counters(&t, "throttle").reads, 1);
	cr_assert_eq(counters(&t, "throttle").writes, 1);
	cr_assert_eq(counters(&t, "integrity").reads, 2);
	cr_assert_eq(counters(&t, "vmdk").reads, 2);
	cr_assert_eq(counters(&t, "vmdk").write_bytes, 4096);
	cr_log_info(
		"checked: chain order from [vdisk] filters; I/O entering at throttle or integrity is not counted above it");
	tdisk_cleanup(&t);
}

Test(vdisk_chain, requests_must_be_sector_aligned_and_inside)
{
	struct tdisk t;
	char buf[4096] = { 0 };

	tdisk_make(&t, MiB, NULL);
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 100, 0), -EINVAL);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, 7), -EINVAL);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 1024, MiB - 512), -EINVAL);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, 512, MiB, 0), -EINVAL);
	cr_assert_eq(keel_vfilter_discard(keel_vdisk_top(t.d), 0, 2 * MiB, 0), -EINVAL);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, MiB - 512), 0);
	tdisk_close(&t);
	cr_assert_eq(tdisk_open(&t, KEEL_VDISK_RDONLY), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(t.d), buf, 512, 0, 0), -EROFS);
	cr_log_info("checked: unaligned, past-the-end -> EINVAL; read-only disk -> EROFS");
	tdisk_cleanup(&t);
}

static void expect_error(const char *meta, int err, const char *want1, const char *want2)
{
	struct tdisk t;

	tdisk_make(&t, MiB, meta);
	cr_assert_eq(tdisk_open(&t, 0), err, "metadata:\n%s\nerror: %s", meta, t.err);
	cr_assert(strstr(t.err, t.meta), "error does not name the file: %s", t.err);
	cr_assert(strstr(t.err, want1), "error lacks \"%s\": %s", want1, t.err);
	cr_assert(!want2 || strstr(t.err, want2), "error lacks \"%s\": %s", want2, t.err);
	cr_assert_null(t.d);
	cr_log_info("checked: %s", t.err);
	tdisk_cleanup(&t);
}

Test(vdisk_chain, bad_metadata_is_refused_with_file_section_and_key)
{
	expect_error("[vdisk]\nfilters = stats crpyt\n", -EINVAL, "[vdisk] filters", "crpyt");
	expect_error("[vdisk]\nfilters = cache\n[filter.cache]\nconnections = 99\n", -ERANGE,
		     "[filter.cache] connections", "out of range");
	expect_error("[vdisk]\nfilters = stats stats\n", -EINVAL, "named twice", NULL);
	expect_error("[vdisk]\nfiltres = stats\n", -EINVAL, "filtres", "unknown key");
	expect_error("[vdisk]\nfilters = throttle\n[filter.throttle]\niops = 10\nipos = 5\n",
		     -EINVAL, "[filter.throttle] ipos", "unknown parameter");
	expect_error("[filter.throttle]\niops = lots\n[vdisk]\nfilters = throttle\n", -EINVAL,
		     "[filter.throttle] iops", "lots");
	expect_error("[vdisk]\nfilters = throttle\n[filter.throttle]\nbps = 2T\n", -ERANGE,
		     "[filter.throttle] bps", "out of range");
	expect_error("[vdisk]\nfilters = stats\n[filter.statz]\ntrace = x\n", -EINVAL,
		     "[filter.statz]", NULL);
	expect_error("[vdisk]\nfilters = stats\n[filter.stats]\nhandles = maybe\n", -EINVAL,
		     "[filter.stats] handles", "maybe");
	expect_error("[vdisk\nfilters = stats\n", -EINVAL, ":2: not an INI line", NULL);
}

Test(vdisk_chain, a_filter_may_refuse_handles)
{
	struct tdisk t;
	struct keel_vfilter *f = NULL;
	char reason[256];

	tdisk_make(&t, MiB,
		   "[vdisk]\nfilters = stats throttle\n[filter.throttle]\nhandles = false\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vdisk_attach(t.d, "stats", &f, reason, sizeof(reason)), 0);
	cr_assert_eq(f, keel_vdisk_top(t.d));
	cr_assert_eq(keel_vdisk_attach(t.d, "throttle", &f, reason, sizeof(reason)), -EPERM);
	cr_assert(strstr(reason, "handles = false"), "%s", reason);
	cr_assert_eq(keel_vdisk_attach(t.d, "crypt", &f, reason, sizeof(reason)), -ENOENT);
	cr_assert(strstr(reason, "stats throttle vmdk"), "%s", reason);
	cr_log_info("checked: refusal reasons: \"%s\"", reason);
	tdisk_cleanup(&t);
}

Test(vdisk_chain, info_lists_every_filter_with_counters)
{
	struct tdisk t;
	char buf[512] = { 0 };
	json_t *info, *fl;

	tdisk_make(&t, MiB, "[vdisk]\nfilters = stats\n");
	cr_assert_eq(tdisk_open(&t, 0), 0, "%s", t.err);
	cr_assert_eq(keel_vfilter_pread(keel_vdisk_top(t.d), buf, 512, 0), 0);
	info = keel_vdisk_info(t.d);
	cr_assert(info);
	fl = json_object_get(info, "filters");
	cr_assert_eq(json_array_size(fl), 2);
	cr_assert_eq(json_integer_value(json_object_get(
			     json_object_get(json_array_get(fl, 1), "counters"), "read_bytes")),
		     512);
	cr_assert(json_object_get(json_object_get(json_array_get(fl, 0), "stats"), "latency"));
	json_decref(info);
	tdisk_cleanup(&t);
}

/* Two linked clones of one base: a block only the base holds has the same
 * layer ID through both chains (the read cache shares it), a block written
 * into a clone has that clone's own ID, and unwritten space has none. */
static char layer_dir[96];

static void layer_dir_rm(void)
{
	tmpdir_rm(layer_dir);
}

Test(vdisk_chain, layer_ids_are_shared_by_linked_clones, .fini = layer_dir_rm)
{
	struct keel_vmdk_create_opts o = { .size = 4 * MiB, .type = KEEL_VMDK_MONOLITHIC_SPARSE };
	char *dir = layer_dir, base[128], c1[128], c2[128], err[1024];
	struct keel_vdisk_opts vo = { 0 };
	struct keel_vdisk *d1, *d2;
	uint64_t id1, id2, top1, top;
	unsigned int depth;
	uint32_t cid1, cid2, basecid;
	struct keel_vmdk *b;
	char buf[4096];

	tmpdir_make(layer_dir, sizeof(layer_dir), "vdisk-layer");
	snprintf(base, sizeof(base), "%s/base.vmdk", dir);
	snprintf(c1, sizeof(c1), "%s/c1.vmdk", dir);
	snprintf(c2, sizeof(c2), "%s/c2.vmdk", dir);
	cr_assert_eq(keel_vmdk_create(base, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_open(base, 0, &b, err, sizeof(err)), 0, "%s", err);
	fill(buf, sizeof(buf), 7);
	cr_assert_eq(keel_vmdk_pwrite(b, buf, sizeof(buf), 0), 0);
	basecid = keel_vmdk_cid(b);
	keel_vmdk_close(b);
	o.parent = base;
	cr_assert_eq(keel_vmdk_create(c1, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vmdk_create(c2, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vdisk_open(c1, &vo, &d1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(keel_vdisk_open(c2, &vo, &d2, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d1), 0, &depth, &id1, &cid1), 0);
	cr_assert_eq(depth, 1, "depth %u", depth);
	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d2), 0, &depth, &id2, &cid2), 0);
	cr_assert_eq(id1, id2, "the base's block has two IDs through two clones");
	cr_assert_eq(cid1, basecid);
	cr_assert_eq(cid2, basecid);

	cr_assert_eq(keel_vfilter_pwrite(keel_vdisk_top(d1), buf, sizeof(buf), 0, 0), 0);
	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d1), 0, &depth, &top1, &cid1), 0);
	cr_assert_eq(depth, 0);
	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d1), KEEL_VF_TOP_LAYER, &depth, &top,
					     &cid2),
		     0);
	cr_assert_eq(top, top1, "the top layer's ID differs from the written block's");
	cr_assert_eq(cid2, cid1);
	cr_assert_neq(top1, id1, "a block written into the clone still names the base");
	cr_assert_neq(cid1, basecid);
	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d2), 0, &depth, &id2, &cid2), 0);
	cr_assert_eq(id2, id1, "the other clone's block moved off the base");
	cr_assert_eq(keel_vfilter_disk_layer(keel_vdisk_top(d1), 2 * MiB, &depth, &id1, &cid1),
		     -ENOENT);
	cr_log_info(
		"checked: a base block has one layer ID through two linked clones; "
		"written into a clone it has the clone's ID and new CID; unwritten space: ENOENT");
	keel_vdisk_close(d1);
	keel_vdisk_close(d2);
}

/* One size parser for keelctl vdisk create --size, keel-vdisk's offsets and
 * the filters' numeric parameters. */
Test(vdisk_chain, sizes_parse_the_same_everywhere)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = { { "512", 512 },	     { "4K", 4096 },	   { "4KiB", 4096 },
		     { "10G", 10ULL << 30 }, { "1t", 1ULL << 40 }, { "3MB", 3 << 20 } };
	static const char *const bad[] = { "", "-1", "+1", " 1", "1X", "1K2", "K", "1 K" };
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(keel_vdisk_parse_size(good[i].s, &v), 0, "\"%s\" refused", good[i].s);
		cr_assert_eq(v, good[i].v, "\"%s\" read as %llu", good[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(keel_vdisk_parse_size(bad[i], &v), -EINVAL, "\"%s\" accepted", bad[i]);
	cr_assert_eq(keel_vdisk_parse_size("99999999999T", &v), -ERANGE);
	cr_log_info(
		"checked: 6 sizes read as meant, 8 malformed ones refused, an overflow is ERANGE");
}

/*
 * Each filter's parameter table (what `keelctl vdisk create --filter`
 * checks before writing anything) agrees with what its open() reads: a
 * number at either end of the table's range opens (or fails for another
 * reason, never naming that key), one past either end is refused by open()
 * too, and a key the table lacks is refused by open() as unknown.  A table
 * stricter or looser than open() would let create write a disk that does
 * not open, or refuse one that would.
 */
static void open_with(const char *filter, const char *key, const char *value, int *ret, char *err,
		      size_t errlen)
{
	char meta[256];
	struct tdisk t;

	static const unsigned char key_bytes[64] = { 1, 2, 3 };

	/* crypt needs a key to open at all: every filter gets one, only crypt reads it */
	snprintf(meta, sizeof(meta), "[vdisk]\nfilters = %s\n[filter.%s]\n%s%s = %s\n", filter,
		 filter, strcmp(filter, "crypt") ? "" : "key_file = own.key\n", key, value);
	tdisk_make(&t, MiB, meta);
	tdisk_write_file(&t, "own.key", key_bytes, sizeof(key_bytes), 0600);
	*ret = tdisk_open(&t, 0);
	snprintf(err, errlen, "%s", t.err);
	tdisk_cleanup(&t);
}

static bool names_key(const char *err, const char *filter, const char *key)
{
	char where[128];

	snprintf(where, sizeof(where), "[filter.%s] %s", filter, key);
	return strstr(err, where) != NULL;
}

Test(vdisk_chain, each_filter_table_agrees_with_its_open)
{
	static const char *const names[] = { "stats", "throttle", "integrity", "crypt", "cache" };
	unsigned int checked = 0;
	char v[32], err[1024];
	int r;

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct keel_vfilter_ops *ops = vdisk_registry_find(names[i]);

		cr_assert_not_null(ops, "filter %s is not registered", names[i]);
		cr_assert_not_null(ops->params, "filter %s declares no parameter table", names[i]);
		for (const struct keel_vfilter_param *q = ops->params; q->key; q++) {
			if (q->kind != KEEL_VF_PARAM_U64)
				continue;
			snprintf(v, sizeof(v), "%llu", (unsigned long long)q->min);
			open_with(names[i], q->key, v, &r, err, sizeof(err));
			cr_assert(!r || !names_key(err, names[i], q->key),
				  "%s %s = %s (the table's minimum) refused by open: %s", names[i],
				  q->key, v, err);
			snprintf(v, sizeof(v), "%llu", (unsigned long long)q->max);
			open_with(names[i], q->key, v, &r, err, sizeof(err));
			cr_assert(!r || !names_key(err, names[i], q->key),
				  "%s %s = %s (the table's maximum) refused by open: %s", names[i],
				  q->key, v, err);
			snprintf(v, sizeof(v), "%llu", (unsigned long long)q->max + 1);
			open_with(names[i], q->key, v, &r, err, sizeof(err));
			cr_assert(
				r && names_key(err, names[i], q->key),
				"%s %s = %s (past the table's maximum) not refused by open (%d: %s)",
				names[i], q->key, v, r, err);
			if (q->min) {
				snprintf(v, sizeof(v), "%llu", (unsigned long long)q->min - 1);
				open_with(names[i], q->key, v, &r, err, sizeof(err));
				cr_assert(
					r && names_key(err, names[i], q->key),
					"%s %s = %s (below the table's minimum) not refused by open",
					names[i], q->key, v);
			}
			checked++;
		}
		open_with(names[i], "not_a_key", "1", &r, err, sizeof(err));
		cr_assert(r && strstr(err, "unknown parameter"),
			  "%s: a key outside its table is not refused by open: %s", names[i], err);
	}
	cr_log_info("checked: %u numeric parameters of 5 filters at both ends of their tables' "
		    "ranges and one past each; a key outside the table is refused by every open",
		    checked);
}
