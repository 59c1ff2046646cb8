// SPDX-License-Identifier: GPL-2.0-only
/* The program of test_exec_dpkg.sh's package: it needs its library mapped. */
#include <stdio.h>

const char *kdemo_hello(void);

int main(void)
{
	printf("kprog: %s\n", kdemo_hello());
	return 0;
}
