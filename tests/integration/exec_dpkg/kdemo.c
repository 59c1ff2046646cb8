// SPDX-License-Identifier: GPL-2.0-only
/* The shared library of test_exec_dpkg.sh's package. */
const char *kdemo_hello(void)
{
	return "libkdemo says hello";
}
