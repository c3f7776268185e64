/*
 * CUnit runner: runs every suite registered with UNIT_SUITE, then names the
 * tests that were skipped (unit_skip) and counts them: "Skipped: N".
 */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#define MAX_SUITES 64

static unit_suite_fn suites[MAX_SUITES];
static int nsuites;
static char build_dir[PATH_MAX];
static char source_dir[PATH_MAX];

void unit_add_suite_fn(unit_suite_fn fn)
{
	if (nsuites < MAX_SUITES)
		suites[nsuites++] = fn;
}

const char *unit_build_dir(void)
{
	return build_dir;
}

const char *unit_source_dir(void)
{
	return source_dir;
}

/* <root>/<build>/tests/unit_tests -> build_dir = <root>/<build> */
static void find_dirs(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0) {
		fprintf(stderr, "unit_tests: cannot read /proc/self/exe\n");
		exit(2);
	}
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	*slash = '\0';                         /* .../build/tests */
	slash = strrchr(exe, '/');
	*slash = '\0';                         /* .../build */
	snprintf(build_dir, sizeof(build_dir), "%s", exe);
	slash = strrchr(exe, '/');
	*slash = '\0';                         /* root */
	snprintf(source_dir, sizeof(source_dir), "%s", exe);
}

int main(int argc, char **argv)
{
	unsigned failed;
	int i;

	find_dirs();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (i = 0; i < nsuites; i++)
		suites[i]();
	CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-v") == 0 ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed();
	unit_report_skips();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
