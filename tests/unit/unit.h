/*
 * Unit test support (CUnit).  Each test file registers its suites with
 * UNIT_SUITE(setup_fn): setup_fn is called once with the CUnit registry
 * ready and adds a suite with CU_add_suite / CU_add_test.
 */
#ifndef PYSPY_TESTS_UNIT_H
#define PYSPY_TESTS_UNIT_H

#include <CUnit/CUnit.h>
#include <stdint.h>

struct pyspy_host;
struct pyspy_module;

typedef void (*unit_suite_fn)(void);
void unit_add_suite_fn(unit_suite_fn fn);

#define UNIT_SUITE(fn)                                                    \
	static void fn(void);                                             \
	__attribute__((constructor)) static void fn##_register(void)      \
	{                                                                 \
		unit_add_suite_fn(fn);                                    \
	}                                                                 \
	static void fn(void)

/* The build folder the test binary belongs to ("build" or "build-asan"),
 * absolute: fixture modules are in <build>/tests/fixtures, real modules in
 * <build>/modules, helpers in <build>/tests/helpers. */
const char *unit_build_dir(void);
/* The repository root, absolute. */
const char *unit_source_dir(void);

/* A host table for modules (support.c): calloc/realloc/free, a silent log,
 * and the options last set with unit_host_options. */
const struct pyspy_host *unit_host(void);
/* Set the host's options: a NULL-terminated list key, value, key, value of
 * strings that outlive their use (literals); NULL: no options. */
void unit_host_options(const char *const *key_value_pairs);
/* dlopen <unit_build_dir()>/relpath as the core does and return its
 * descriptor if it is of `kind` (*handle to dlclose); NULL with a line on
 * stderr on failure. */
const struct pyspy_module *unit_load_module(const char *relpath, uint32_t kind,
					    void **handle);

/* Skip the running test because a prerequisite is missing: prints
 * "skip: <why>" now, and the runner counts the test as skipped (not passed)
 * and names it at the end.  The test returns right after.  A test that
 * also failed an assertion counts as failed. */
void unit_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The tests unit_skip was called in that did not fail (main.c): prints each
 * by suite and name with its reason, then the line "Skipped: N"; returns N. */
unsigned unit_report_skips(void);

/* Make the folder /tmp/pyspy-test-<name>-XXXXXX in dir[len]: 0 or -errno. */
int unit_make_tmpdir(char *dir, size_t len, const char *name);
/* Remove the folder dir and all below it: 0 or -EIO. */
int unit_remove_tree(const char *dir);

#endif /* PYSPY_TESTS_UNIT_H */
