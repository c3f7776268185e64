/*
 * core/discover.c version helpers: version_format, version_scan (the
 * version string found in a runtime's memory) and version_from_filename.
 * Scanned buffers are exact-size heap copies without a terminating NUL so
 * that the ASan build catches a read past their end.
 */
#include <stdlib.h>
#include <string.h>

#include "../../core/discover.h"
#include "unit.h"

static void test_format(void)
{
	static const struct { uint32_t hex; const char *want; } cases[] = {
		{ 0x030C01F0, "3.12.1" },
		{ 0x020712F0, "2.7.18" },
		{ 0x030F00A3, "3.15.0a3" },
		{ 0x030E00B2, "3.14.0b2" },
		{ 0x030D00C1, "3.13.0rc1" },
		{ 0x030A0DF0, "3.10.13" },
		{ 0x03060FF0, "3.6.15" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		version_format(cases[i].hex, buf, sizeof(buf));
		CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
	}
	/* A short buffer is truncated, still terminated. */
	version_format(0x030C01F0, buf, 4);
	CU_ASSERT_STRING_EQUAL(buf, "3.1");
}

/* version_scan over an exact-size copy of s (no NUL after it). */
static uint32_t scan(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	uint32_t v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, s, len);
	v = version_scan(copy, len);
	free(copy);
	return v;
}

#define SCAN(lit) scan(lit, sizeof(lit) - 1)

static void test_scan_found(void)
{
	CU_ASSERT_EQUAL(SCAN("3.12.1 (main, May  9 2026, 07:36:11) [GCC 12.2.0]"), 0x030C01F0);
	CU_ASSERT_EQUAL(SCAN("2.7.18 (default, Jan  1 2024, 00:00:00)\n[GCC 12.2.0]"), 0x020712F0);
	CU_ASSERT_EQUAL(SCAN("3.13.0 experimental free-threading build (main, Oct  7 2024)"),
			0x030D00F0);
	CU_ASSERT_EQUAL(SCAN("3.15.0a3 ("), 0x030F00A3);
	CU_ASSERT_EQUAL(SCAN("3.14.0rc1 (main, Jul 22 2025)"), 0x030E00C1);
	CU_ASSERT_EQUAL(SCAN("3.14.0b2 (main"), 0x030E00B2);
	CU_ASSERT_EQUAL(SCAN("3.13.0a1 (main"), 0x030D00A1);
	CU_ASSERT_EQUAL(SCAN("3.12.1+ (heads/3.12:abc, Jan 1 2024)"), 0x030C01F0);
	CU_ASSERT_EQUAL(SCAN("3.6.15\n"), 0x03060FF0);
	CU_ASSERT_EQUAL(SCAN("3.9.1\nx"), 0x030901F0);
	CU_ASSERT_EQUAL(SCAN("3.9.1 ("), 0x030901F0); /* the shortest match */
	/* Inside other bytes, NULs included. */
	CU_ASSERT_EQUAL(scan("\0\0\xff" "abc3.11.7 (main, Dec  8 2023)\0", 33), 0x030B07F0);
	CU_ASSERT_EQUAL(SCAN("Python x3.10.13 (main"), 0x030A0DF0);
	/* The first candidate that parses wins; garbage before it is skipped. */
	CU_ASSERT_EQUAL(SCAN("13.12.1 ( 3.12.1x ( 3.9.2 ( 3.8.1 ("), 0x030902F0);
}

static void test_scan_not_found(void)
{
	CU_ASSERT_EQUAL(SCAN("13.12.1 (main"), 0);   /* digit before the major */
	CU_ASSERT_EQUAL(SCAN("23.12.1 (main"), 0);
	CU_ASSERT_EQUAL(SCAN("3.12.1x (main"), 0);   /* junk after the micro */
	CU_ASSERT_EQUAL(SCAN("3.12.1x"), 0);
	CU_ASSERT_EQUAL(SCAN("3.12.10x (main"), 0);
	CU_ASSERT_EQUAL(SCAN("3.123.1 (main"), 0);   /* three-digit minor */
	CU_ASSERT_EQUAL(SCAN("3.12.123 (main"), 0);  /* three-digit micro */
	CU_ASSERT_EQUAL(SCAN("3.12 (main, May"), 0); /* no micro */
	CU_ASSERT_EQUAL(SCAN("4.0.0 (main, May"), 0);
	CU_ASSERT_EQUAL(SCAN("1.5.2 (main, May"), 0);
	CU_ASSERT_EQUAL(SCAN("3.12.1a (main"), 0);   /* level without serial */
	CU_ASSERT_EQUAL(SCAN("3.12.1rc (main"), 0);
	CU_ASSERT_EQUAL(SCAN("3.12.1 [main"), 0);    /* not " (" */
	CU_ASSERT_EQUAL(SCAN("3.12.1  (main"), 0);
	CU_ASSERT_EQUAL(SCAN("3.12.1 "), 0);         /* cut off */
	CU_ASSERT_EQUAL(SCAN("3.12.1"), 0);
	CU_ASSERT_EQUAL(SCAN("3..1 (main"), 0);
	CU_ASSERT_EQUAL(SCAN("3.x.1 (main"), 0);
	CU_ASSERT_EQUAL(scan("", 0), 0);
	CU_ASSERT_EQUAL(SCAN("3"), 0);
	CU_ASSERT_EQUAL(SCAN("no version here at all"), 0);
}

/* Every prefix of a version string: found only when whole, never a read
 * past the end (ASan). */
static void test_scan_prefixes(void)
{
	static const char s[] = "xx3.14.0rc2 (main, Jul 22 2025)";
	size_t n;

	for (n = 0; n < sizeof(s) - 1; n++) {
		uint32_t v = scan(s, n);

		CU_ASSERT(v == 0 || v == 0x030E00C2);
		CU_ASSERT_EQUAL(v, n >= strlen("xx3.14.0rc2 (") ? 0x030E00C2u : 0u);
	}
}

/* from_filename over an exact-size heap copy (the NUL included). */
static uint32_t from_name(const char *s)
{
	char *copy = strdup(s);
	uint32_t v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	v = version_from_filename(copy);
	free(copy);
	return v;
}

static void test_from_filename(void)
{
	/* major.minor, the patch level unknown (0xFF) */
	CU_ASSERT_EQUAL(from_name("libpython3.12d.so.1.0"), 0x030CFF00);
	CU_ASSERT_EQUAL(from_name("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"), 0x030BFF00);
	CU_ASSERT_EQUAL(from_name("python2.7"), 0x0207FF00);
	CU_ASSERT_EQUAL(from_name("/usr/bin/python2.7"), 0x0207FF00);
	CU_ASSERT_EQUAL(from_name("libpython3.6m.so"), 0x0306FF00);
	CU_ASSERT_EQUAL(from_name("libpython3.13t.so.1.0"), 0x030DFF00);
	CU_ASSERT_EQUAL(from_name("python3.15"), 0x030FFF00);
	CU_ASSERT_EQUAL(from_name("python3.1"), 0x0301FF00);
	/* No version in the name: 0 (boost's library, a bare python3, ...). */
	CU_ASSERT_EQUAL(from_name("libboost_python3.so"), 0);
	CU_ASSERT_EQUAL(from_name("libboost_python311.so.1.74.0"), 0);
	CU_ASSERT_EQUAL(from_name("python3"), 0);
	CU_ASSERT_EQUAL(from_name("python3."), 0);
	CU_ASSERT_EQUAL(from_name("python"), 0);
	CU_ASSERT_EQUAL(from_name("python4.0"), 0);
	CU_ASSERT_EQUAL(from_name("embed_host"), 0);
	CU_ASSERT_EQUAL(from_name(""), 0);
	/* Only the base name counts: a versioned folder is not the file's version. */
	CU_ASSERT_EQUAL(from_name("/opt/python3.12/bin/python"), 0);
	CU_ASSERT_EQUAL(from_name("/opt/python3.12/lib/libembedded-runtime.so"), 0);
}

UNIT_SUITE(discover_suite)
{
	CU_pSuite s = CU_add_suite("core/discover versions", NULL, NULL);

	CU_add_test(s, "version_format", test_format);
	CU_add_test(s, "version_scan finds", test_scan_found);
	CU_add_test(s, "version_scan rejects", test_scan_not_found);
	CU_add_test(s, "version_scan prefixes", test_scan_prefixes);
	CU_add_test(s, "version_from_filename", test_from_filename);
}
