// SPDX-License-Identifier: GPL-2.0-only
/* keeld's configuration: defaults, overrides, and every kind of bad input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blk/blk_config.h"
#include "exec/exec_config.h"
#include "keeld/config.h"
#include "keeld/subsys.h"

extern const struct keel_subsys_ops keel_exec_ops, keel_blk_ops;

/* Each subsystem's section, as the frame keeps it. */
static struct exec_config *exec_of(struct keel_config *cfg)
{
	return (struct exec_config *)keel_config_subsys(cfg, &keel_exec_ops);
}

static struct blk_config *blk_of(struct keel_config *cfg)
{
	return (struct blk_config *)keel_config_subsys(cfg, &keel_blk_ops);
}

static int load(struct keel_config *cfg, const char *text, struct keel_config_error *err)
{
	keel_config_defaults(cfg);
	return keel_config_load_string(cfg, text, "test.conf", err);
}

static void expect_error(const char *text, int line, const char *key, const char *needle)
{
	struct keel_config cfg, before;
	struct keel_config_error err;
	char msg[1024];

	keel_config_defaults(&before);
	cr_assert_lt(load(&cfg, text, &err), 0, "accepted bad input: %s", text);
	keel_config_error_format(&err, msg, sizeof(msg));
	cr_log_info("rejected with: %s", msg);
	cr_expect_eq(err.line, line, "line %d, expected %d (%s)", err.line, line, msg);
	cr_expect_str_eq(err.key, key);
	cr_expect(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
	cr_expect(!memcmp(&cfg, &before, sizeof(cfg)), "configuration half-applied");
}

Test(config, defaults_are_sane)
{
	struct keel_config cfg;

	keel_config_defaults(&cfg);
	cr_log_info("checked: embedded defaults: socket, pin dir, audit-safe subsystems");
	cr_expect_str_eq(cfg.control_socket, "/run/keel/keel.sock");
	cr_expect_str_eq(cfg.pin_dir, "/sys/fs/bpf/keel");
	cr_expect(exec_of(&cfg)->subsys.enabled && !exec_of(&cfg)->subsys.required);
	cr_expect(blk_of(&cfg)->subsys.enabled && !blk_of(&cfg)->subsys.required);
	cr_expect_eq(blk_of(&cfg)->stats_interval_ms, 10000);
	cr_expect_str_eq(exec_of(&cfg)->mode, "audit");
	cr_expect(cfg.events_stdout);
}

Test(config, file_overrides_only_given_keys)
{
	struct keel_config cfg;
	struct keel_config_error err;

	cr_assert_eq(load(&cfg,
			  "# comment\n[blk]\nstats_interval_ms = 500\nrequired = yes\n"
			  "\n[control]\ngroup = adm ; inline comment\n",
			  &err),
		     0, "%s", err.msg);
	cr_log_info("checked: keys set in the file override, others keep defaults");
	cr_expect_eq(blk_of(&cfg)->stats_interval_ms, 500);
	cr_expect(blk_of(&cfg)->subsys.required);
	cr_expect_str_eq(cfg.control_group, "adm");
	cr_expect(exec_of(&cfg)->subsys.enabled);
	cr_expect_str_eq(cfg.control_socket, "/run/keel/keel.sock");
}

Test(config, unknown_key_names_line_and_key)
{
	cr_log_info("checked: unknown key -> line and key named, nothing applied");
	expect_error("[blk]\nstats_interval_ms = 500\nbogus = 1\n", 3, "[blk] bogus",
		     "unknown key");
}

Test(config, unknown_section)
{
	cr_log_info("checked: unknown section -> named");
	expect_error("[nope]\nx = 1\n", 2, "[nope] x", "unknown section");
}

Test(config, out_of_range)
{
	cr_log_info("checked: out-of-range number -> range given");
	expect_error("[blk]\nstats_interval_ms = 5\n", 2, "[blk] stats_interval_ms",
		     "100..3600000");
	expect_error("[control]\nmax_clients = 99999999999999999999\n", 2, "[control] max_clients",
		     "not a whole number");
	expect_error("[control]\nmax_clients = -3\n", 2, "[control] max_clients",
		     "not a whole number");
}

Test(config, bad_boolean)
{
	cr_log_info("checked: bad boolean -> rejected");
	expect_error("[exec]\nrequired = perhaps\n", 2, "[exec] required", "not a boolean");
}

Test(config, syntax_error_has_line)
{
	cr_log_info("checked: a line that is not INI -> syntax error with its line");
	expect_error("[blk]\nstats_interval_ms = 500\nthis is not ini\n", 3, "", "syntax error");
	expect_error("[blk\nstats_interval_ms = 500\n", 1, "", "syntax error");
}

Test(config, first_error_wins)
{
	cr_log_info("checked: the first of two errors is reported");
	expect_error("[blk]\nbogus = 1\nstats_interval_ms = 1\n", 2, "[blk] bogus", "unknown key");
}

Test(config, key_set_twice)
{
	cr_log_info("checked: a key set twice is refused");
	expect_error("[blk]\nstats_interval_ms = 500\nstats_interval_ms = 600\n", 3,
		     "[blk] stats_interval_ms", "first on line 2");
}

Test(config, too_long_string)
{
	char text[600];

	memset(text, 0, sizeof(text));
	strcpy(text, "[keeld]\nhost = ");
	memset(text + strlen(text), 'h', 100);
	strcat(text, "\n");
	cr_log_info("checked: a string longer than its field is refused");
	expect_error(text, 2, "[keeld] host", "at most 63");
}

Test(config, missing_file)
{
	struct keel_config cfg;
	struct keel_config_error err;

	keel_config_defaults(&cfg);
	cr_log_info("checked: missing file -> -ENOENT naming the file");
	cr_expect_eq(keel_config_load_file(&cfg, "/nonexistent/keel.conf", &err), -ENOENT);
	cr_expect_str_eq(err.file, "/nonexistent/keel.conf");
}

Test(config, unknown_group_fails_validation)
{
	struct keel_config cfg;
	struct keel_config_error err;

	cr_assert_eq(load(&cfg, "[control]\ngroup = no-such-group-keel\n", &err), 0);
	cr_log_info("checked: [control] group that does not exist is refused");
	cr_expect_lt(keel_config_validate(&cfg, &err), 0);
	cr_expect_str_eq(err.key, "[control] group");
}

Test(config, print_then_parse_round_trips)
{
	struct keel_config cfg, again;
	struct keel_config_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	keel_config_defaults(&cfg);
	blk_of(&cfg)->stats_interval_ms = 777;
	snprintf(cfg.host, sizeof(cfg.host), "h1");
	keel_config_print(&cfg, f);
	fclose(f);
	cr_log_info("checked: --print-config output parses back to the same configuration");
	cr_assert_eq(load(&again, text, &err), 0, "line %d: %s", err.line, err.msg);
	cr_expect(!memcmp(&cfg, &again, sizeof(cfg)));
	free(text);
}

Test(config, each_subsystem_has_its_own_section)
{
	struct keel_config cfg;
	struct keel_config_error err;
	const char *seen[KEEL_MAX_SUBSYSTEMS];
	size_t n = 0;

	cr_assert_eq(load(&cfg, "[exec]\nrequired = true\n", &err), 0, "%s", err.msg);
	cr_log_info("checked: [exec] required sets exec's alone; every registered subsystem "
		    "has a distinct section of its own size inside the configuration");
	cr_expect(exec_of(&cfg)->subsys.required);
	for (size_t i = 0; keel_subsystems[i]; i++) {
		const struct keel_subsys_ops *ops = keel_subsystems[i];
		const struct keel_subsys_config *c = keel_config_subsys(&cfg, ops);
		const unsigned char *at = (const unsigned char *)c;

		cr_assert(c, "%s has no section", ops->name);
		cr_expect(at >= cfg.subsys &&
				  at + ops->config_size <= cfg.subsys + sizeof(cfg.subsys),
			  "%s's section lies outside the configuration", ops->name);
		cr_expect_eq(c->required, ops == &keel_exec_ops, "%s required", ops->name);
		for (size_t j = 0; j < n; j++)
			cr_expect(seen[j] != (const char *)c, "%s shares a section", ops->name);
		seen[n++] = (const char *)c;
	}
	cr_expect_null(keel_config_subsys(&cfg, NULL), "an unregistered subsystem has a section");
}

Test(config, subsystem_check_names_its_key)
{
	struct keel_config cfg;
	struct keel_config_error err;

	cr_assert_eq(load(&cfg, "[vmnet]\nlearn = sometimes\n", &err), 0, "%s", err.msg);
	cr_log_info("checked: a subsystem's own check (vmnet learn) names its section and key");
	cr_expect_eq(keel_config_validate(&cfg, &err), -EINVAL);
	cr_expect_str_eq(err.key, "[vmnet] learn");
	cr_expect(strstr(err.msg, "not a learning policy"), "%s", err.msg);
}
