/*
 * Shared test scaffolding: a host table for modules, a module loader,
 * temporary folders and skipped tests.
 */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/TestRun.h>
#include <pyspy/module.h>

#include "unit.h"

#define UNIT_MAX_OPTIONS 16

/* key, value, key, value, ... NULL: string literals, so pointers suffice */
static const char *host_options[2 * UNIT_MAX_OPTIONS + 1];

static void *unit_alloc(size_t n)
{
	return calloc(1, n);
}

static void *unit_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

static void unit_free(void *p)
{
	free(p);
}

static void unit_log(const struct pyspy_host *host, int level, const char *fmt, ...)
{
}

static const char *unit_option(const struct pyspy_host *host, const char *key)
{
	size_t i;

	for (i = 0; host_options[i] && host_options[i + 1]; i += 2) {
		if (strcmp(host_options[i], key) == 0)
			return host_options[i + 1];
	}
	return NULL;
}

static const struct pyspy_host unit_host_table = {
	.size = sizeof(struct pyspy_host),
	.abi_version = PYSPY_ABI_VERSION,
	.alloc = unit_alloc,
	.realloc = unit_realloc,
	.free = unit_free,
	.log = unit_log,
	.option = unit_option,
};

const struct pyspy_host *unit_host(void)
{
	return &unit_host_table;
}

void unit_host_options(const char *const *pairs)
{
	size_t i = 0;

	if (pairs) {
		for (; i < 2 * UNIT_MAX_OPTIONS && pairs[i] && pairs[i + 1]; i += 2) {
			host_options[i] = pairs[i];
			host_options[i + 1] = pairs[i + 1];
		}
		if (pairs[i])
			fprintf(stderr, "unit_host_options: more than %d options or an odd list\n",
				UNIT_MAX_OPTIONS);
	}
	host_options[i] = NULL;
}

const struct pyspy_module *unit_load_module(const char *relpath, uint32_t kind, void **handle)
{
	char path[PATH_MAX];
	const struct pyspy_module *mod;

	snprintf(path, sizeof(path), "%s/%s", unit_build_dir(), relpath);
	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*handle) {
		fprintf(stderr, "unit_load_module: %s\n", dlerror());
		return NULL;
	}
	mod = dlsym(*handle, PYSPY_MODULE_SYMBOL);
	if (!mod || mod->kind != kind) {
		fprintf(stderr, "unit_load_module: %s: no %s of kind %u\n", path,
			PYSPY_MODULE_SYMBOL, (unsigned)kind);
		dlclose(*handle);
		*handle = NULL;
		return NULL;
	}
	return mod;
}

int unit_make_tmpdir(char *dir, size_t len, const char *name)
{
	int n = snprintf(dir, len, "/tmp/pyspy-test-%s-XXXXXX", name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return mkdtemp(dir) ? 0 : -errno;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int unit_remove_tree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) ? -EIO : 0;
}

/* --- skipped tests ----------------------------------------------------- */

#define UNIT_MAX_SKIPS 64

struct unit_skipped {
	const CU_Test *test;
	const CU_Suite *suite;
	char why[160];
};

static struct unit_skipped skipped[UNIT_MAX_SKIPS];
static unsigned nskipped;

void unit_skip(const char *fmt, ...)
{
	const CU_Test *test = CU_get_current_test();
	struct unit_skipped *sk;
	va_list ap;

	if (nskipped && skipped[nskipped - 1].test == test)
		return; /* one reason per test is enough */
	if (nskipped == UNIT_MAX_SKIPS) {
		/* Not recorded, so not counted as skipped: it must not pass. */
		CU_FAIL("more than UNIT_MAX_SKIPS tests skipped");
		return;
	}
	sk = &skipped[nskipped++];
	sk->test = test;
	sk->suite = CU_get_current_suite();
	va_start(ap, fmt);
	vsnprintf(sk->why, sizeof(sk->why), fmt, ap);
	va_end(ap);
	printf("\n  skip: %s\n", sk->why);
}

static int unit_test_failed(const CU_Test *test)
{
	const struct CU_FailureRecord *f;

	for (f = CU_get_failure_list(); f; f = f->pNext) {
		if (f->pTest == test)
			return 1;
	}
	return 0;
}

unsigned unit_report_skips(void)
{
	unsigned i, n = 0;

	for (i = 0; i < nskipped; i++) {
		const struct unit_skipped *sk = &skipped[i];

		if (unit_test_failed(sk->test))
			continue; /* CUnit counts it as failed */
		if (n++ == 0)
			printf("\nSkipped tests (CUnit counts them as passed above):\n");
		printf("  SKIPPED %s: %s: %s\n", sk->suite && sk->suite->pName ? sk->suite->pName : "?",
		       sk->test && sk->test->pName ? sk->test->pName : "?", sk->why);
	}
	printf("Skipped: %u\n", n);
	return n;
}
