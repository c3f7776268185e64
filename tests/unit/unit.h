/*
 * Unit test support (CUnit).  Each test file registers its suites with
 * UNIT_SUITE(setup_fn): setup_fn is called once with the CUnit registry
 * ready and adds a suite with CU_add_suite / CU_add_test.
 */
#ifndef PYSPY_TESTS_UNIT_H
#define PYSPY_TESTS_UNIT_H

#include <CUnit/CUnit.h>

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

#endif /* PYSPY_TESTS_UNIT_H */
