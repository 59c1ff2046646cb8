// SPDX-License-Identifier: GPL-2.0-only
/*
 * tests/bench/run runs the programs under build/tests/bench: this one runs
 * the blk benchmark script, tests/bench/blk_fio.sh, from the checkout that
 * built it (build/tests/bench/blk_bench -> ../../../tests/bench/).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char exe[PATH_MAX], script[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0) {
		perror("blk_bench: reading /proc/self/exe");
		return 1;
	}
	exe[n] = '\0';
	snprintf(script, sizeof(script), "%s/../../../tests/bench/blk_fio.sh", dirname(exe));
	execl("/bin/bash", "bash", script, (char *)NULL);
	fprintf(stderr, "blk_bench: running %s: %s\n", script, strerror(errno));
	return 1;
}
