/*
 * core/linetable.c: every table model, built byte by byte, with the line
 * each offset must give; malformed and truncated tables give -1.  Tables
 * are copied into buffers of exactly their size so that the ASan build
 * catches any read past the end.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/layout.h>

#include "../../core/linetable.h"
#include "unit.h"

/* linetable_line over an exact-size heap copy of t[0..n). */
static int line_at(uint32_t model, const uint8_t *t, size_t n, int first, int64_t addr)
{
	uint8_t *copy = malloc(n ? n : 1);
	int line;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	if (n)
		memcpy(copy, t, n);
	line = linetable_line(model, n ? copy : NULL, n, first, addr);
	free(copy);
	return line;
}

#define LINE(model, t, first, addr) line_at(model, t, sizeof(t), first, addr)

static void test_negative_addr(void)
{
	static const uint8_t lnotab[] = { 0, 5 };
	static const uint8_t t310[] = { 2, 5 };
	static const uint8_t loc[] = { 0xD8, 1, 2 }; /* code 11: +1 */
	uint32_t m;

	/* Not started: firstlineno whatever the table says, for every model. */
	for (m = PYSPY_LINES_LNOTAB_U8; m <= PYSPY_LINES_LOCATIONS; m++) {
		CU_ASSERT_EQUAL(line_at(m, NULL, 0, 42, -1), 42);
		CU_ASSERT_EQUAL(line_at(m, NULL, 0, 42, -2), 42);
		CU_ASSERT_EQUAL(line_at(m, NULL, 0, 42, INT64_MIN), 42);
	}
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, lnotab, 7, -1), 7);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, lnotab, 7, 0), 12);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t310, 7, -2), 7);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t310, 7, 0), 12);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, loc, 7, -2), 7);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, loc, 7, 0), 8);
}

static void test_unknown_model(void)
{
	static const uint8_t t[] = { 2, 1 };

	CU_ASSERT_EQUAL(LINE(0, t, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(5, t, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(0xFFFFFFFFu, t, 10, 0), -1);
}

/* co_lnotab: (address increment, line increment) pairs; a pair applies to
 * every address at or past its cumulative address. */
static void test_lnotab(void)
{
	/* +1 line at 6, +254/-2 at 14, a zero-address pair at 14 too (+3),
	 * then a long address gap split in (255, 0) + (45, 1). */
	static const uint8_t t[] = { 6, 1, 8, 0xFE, 0, 3, 255, 0, 45, 1 };
	int64_t a;

	for (a = 0; a < 6; a++) {
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, t, 10, a), 10);
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, a), 10);
	}
	for (a = 6; a < 14; a++) {
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, t, 10, a), 11);
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, a), 11);
	}
	/* unsigned before 3.6: 11 + 254 + 3; signed: 11 - 2 + 3 */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, t, 10, 14), 268);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, 14), 12);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, t, 10, 313), 268);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, 313), 12);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, t, 10, 314), 269);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, 314), 13);
	/* Past the last pair: the last line, not -1. */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, t, 10, 100000), 13);
}

static void test_lnotab_edges(void)
{
	static const uint8_t odd[] = { 4, 1, 2 };       /* a trailing half pair is ignored */
	static const uint8_t first[] = { 0, 2, 0, 0x81 }; /* +2 then -127 (signed) at 0 */

	CU_ASSERT_EQUAL(line_at(PYSPY_LINES_LNOTAB_U8, NULL, 0, 33, 0), 33);
	CU_ASSERT_EQUAL(line_at(PYSPY_LINES_LNOTAB_S8, NULL, 0, 33, 1000), 33);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, odd, 1, 3), 1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, odd, 1, 4), 2);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, odd, 1, 99), 2);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, first, 200, 0), 75);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, first, 200, 0), 331);
}

/* 3.10: (range length, line delta) pairs, -128 = no line; a zero-length
 * range still moves the line. */
static void test_310(void)
{
	static const uint8_t t[] = {
		6, 1,     /* [0, 6): 6 */
		0, 2,     /* empty: line 8 from now on */
		4, 0x80,  /* [6, 10): no line; 8 kept */
		2, 0xFD,  /* [10, 12): 5 */
		254, 0,   /* [12, 266): 5 */
		2, 127,   /* [266, 268): 132 */
	};
	int64_t a;

	for (a = 0; a < 6; a++)
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, a), 6);
	for (a = 6; a < 10; a++)
		CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, a), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 10), 5);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 11), 5);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 12), 5);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 265), 5);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 266), 132);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 267), 132);
	/* Past the end: no line. */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 268), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t, 5, 1 << 30), -1);
}

static void test_310_edges(void)
{
	static const uint8_t zero_only[] = { 0, 3, 0, 4 };
	static const uint8_t odd[] = { 2, 1, 9 };
	static const uint8_t none_first[] = { 2, 0x80, 2, 1 }; /* no line, then first+1 */

	CU_ASSERT_EQUAL(line_at(PYSPY_LINES_310, NULL, 0, 9, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, zero_only, 9, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, odd, 9, 1), 10);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, odd, 9, 2), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, none_first, 9, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, none_first, 9, 2), 10);
}

/* 3.11+ location table: entry byte 1CCCCLLL (code, length - 1 in code
 * units of 2 bytes), then the code's data. */
#define ENTRY(code, units) ((uint8_t)(0x80 | ((code) << 3) | ((units) - 1)))

static void test_locations_all_codes(void)
{
	static const uint8_t t[] = {
		ENTRY(0, 1), 0x05,                  /* [0, 2): short form, line 100 */
		ENTRY(9, 2), 0x7F,                  /* [2, 6): short form */
		ENTRY(10, 1), 1, 2,                 /* [6, 8): one-line form +0 */
		ENTRY(11, 1), 3, 4,                 /* [8, 10): +1 -> 101 */
		ENTRY(12, 3), 5, 6,                 /* [10, 16): +2 -> 103 */
		ENTRY(13, 1), 0x0B,                 /* [16, 18): no column, -5 -> 98 */
		ENTRY(14, 8), 0x4C, 0x02, 0, 1, 5,  /* [18, 34): long, +70 -> 168 */
		ENTRY(15, 1),                       /* [34, 36): no location */
		ENTRY(13, 1), 0x00,                 /* [36, 38): 168 (15 kept the line) */
		ENTRY(14, 1), 0x79, 0x01, 0, 0, 0,  /* [38, 40): -60 -> 108 */
		ENTRY(13, 1), 0x50, 0x5C, 0x02,     /* [40, 42): +5000 -> 5108 */
	};
	static const struct { int64_t from, to; int line; } want[] = {
		{ 0, 2, 100 }, { 2, 6, 100 }, { 6, 8, 100 }, { 8, 10, 101 }, { 10, 16, 103 },
		{ 16, 18, 98 }, { 18, 34, 168 }, { 34, 36, -1 }, { 36, 38, 168 }, { 38, 40, 108 },
		{ 40, 42, 5108 }, { 42, 100, -1 },
	};
	size_t i;
	int64_t a;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		for (a = want[i].from; a < want[i].to; a++) {
			int got = LINE(PYSPY_LINES_LOCATIONS, t, 100, a);

			CU_ASSERT_EQUAL(got, want[i].line);
			if (got != want[i].line)
				fprintf(stderr, "\n  addr %lld: %d, expected %d\n", (long long)a, got,
					want[i].line);
		}
	}
}

/* Codes 0 to 9 (short forms) differ only in their column: line delta 0;
 * every length 1..8 code units. */
static void test_locations_short_forms(void)
{
	int code, units;

	for (code = 0; code <= 9; code++) {
		for (units = 1; units <= 8; units++) {
			uint8_t t[] = { ENTRY(code, units), 0x11, ENTRY(11, 1), 0, 0 };

			CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 50, 0), 50);
			CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 50, units * 2 - 1), 50);
			CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 50, units * 2), 51);
			CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 50, units * 2 + 1), 51);
			CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 50, units * 2 + 2), -1);
		}
	}
}

/* svarint: zigzag-like (bit 0 = sign), 6-bit chunks with 0x40 = more. */
static void test_locations_varints(void)
{
	static const struct { uint8_t bytes[6]; size_t n; int delta; } cases[] = {
		{ { 0x00 }, 1, 0 },
		{ { 0x02 }, 1, 1 },
		{ { 0x03 }, 1, -1 },
		{ { 0x3E }, 1, 31 },
		{ { 0x3F }, 1, -31 },
		{ { 0x40, 0x01 }, 2, 32 },           /* 64 >> 1 */
		{ { 0x41, 0x01 }, 2, -32 },
		{ { 0x7E, 0x3F }, 2, 2047 },         /* 4094 */
		{ { 0x40, 0x40, 0x01 }, 3, 2048 },   /* 4096 */
		{ { 0x41, 0x40, 0x40, 0x40, 0x01 }, 5, -(1 << 23) },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t t13[8], t14[12];
		size_t n13 = 0, n14 = 0;
		int first = 1 << 24;

		t13[n13++] = ENTRY(13, 1);
		memcpy(t13 + n13, cases[i].bytes, cases[i].n);
		n13 += cases[i].n;
		t14[n14++] = ENTRY(14, 1);
		memcpy(t14 + n14, cases[i].bytes, cases[i].n);
		n14 += cases[i].n;
		t14[n14++] = 0x41; /* end line delta, 2 bytes */
		t14[n14++] = 0x01;
		t14[n14++] = 3;
		t14[n14++] = 4;
		CU_ASSERT_EQUAL(line_at(PYSPY_LINES_LOCATIONS, t13, n13, first, 0), first + cases[i].delta);
		CU_ASSERT_EQUAL(line_at(PYSPY_LINES_LOCATIONS, t14, n14, first, 1), first + cases[i].delta);
	}
}

static void test_locations_malformed(void)
{
	static const uint8_t no_entry[] = { 0x05 };                   /* high bit clear */
	static const uint8_t bad_second[] = { ENTRY(13, 1), 0x02, 0x30 };
	static const uint8_t code13_empty[] = { ENTRY(13, 1) };
	static const uint8_t code13_cont[] = { ENTRY(13, 1), 0x40 };  /* chunk says more; none */
	static const uint8_t code14_short[] = { ENTRY(14, 1), 0x02, 0x00, 0x01 }; /* 3 of 4 */
	static const uint8_t code14_cont[] = { ENTRY(14, 1), 0x02, 0x00, 0x01, 0x41 };
	static const uint8_t too_long[] = { ENTRY(13, 1), 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x01 };
	static const uint8_t short_cut[] = { ENTRY(10, 1), 1 };      /* one-line form, 1 of 2 */
	static const uint8_t loc_empty[1] = { 0 };

	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, no_entry, 10, 0), -1);
	/* The first entry is fine; the second is not an entry. */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, bad_second, 10, 0), 11);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, bad_second, 10, 2), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, code13_empty, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, code13_cont, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, code14_short, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, code14_cont, 10, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, too_long, 10, 0), -1);
	/* A cut-off column byte: no read past the end, nothing after it. */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, short_cut, 10, 2), -1);
	CU_ASSERT_EQUAL(line_at(PYSPY_LINES_LOCATIONS, loc_empty, 0, 10, 0), -1);
}

/* Every prefix of a valid table, and every byte flipped: never a read past
 * the end (ASan), a line only where the prefix still holds the entry. */
static void test_locations_prefixes(void)
{
	static const uint8_t t[] = {
		ENTRY(14, 2), 0x4C, 0x02, 0x41, 0x01, 1, 5,
		ENTRY(13, 1), 0x50, 0x5C, 0x02,
		ENTRY(12, 1), 5, 6,
		ENTRY(15, 2),
		ENTRY(3, 1), 0x33,
	};
	size_t n, i;
	int64_t a;

	for (n = 0; n <= sizeof(t); n++) {
		for (a = 0; a < 20; a++) {
			int full = LINE(PYSPY_LINES_LOCATIONS, t, 1, a);
			int cut = line_at(PYSPY_LINES_LOCATIONS, t, n, 1, a);

			CU_ASSERT(cut == -1 || cut == full);
		}
	}
	/* Whole table: [0,4) 71, [4,6) 5071, [6,8) 5073, [8,12) none, [12,14) 5073 */
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 3), 71);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 4), 5071);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 6), 5073);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 8), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 13), 5073);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, t, 1, 14), -1);

	/* Random garbage of every length, every model. */
	srand(12345);
	for (i = 0; i < 2000; i++) {
		uint8_t g[24];
		uint32_t m;

		n = (size_t)rand() % sizeof(g);
		for (size_t k = 0; k < n; k++)
			g[k] = (uint8_t)rand();
		for (m = PYSPY_LINES_LNOTAB_U8; m <= PYSPY_LINES_LOCATIONS; m++)
			line_at(m, g, n, rand() % 100000, rand() % 600);
	}
}

/* Garbage first line numbers from the target: sums out of int range are no
 * line, never an overflow (UBSan traps on one in build-asan). */
static void test_extreme_firstlineno(void)
{
	static const uint8_t lnotab[] = { 0, 255, 0, 255 };
	static const uint8_t one[] = { 0, 1 };
	static const uint8_t t310[] = { 2, 127, 2, 127 };
	static const uint8_t loc[] = { ENTRY(13, 1), 0x7E, 0x7F, 0x7F, 0x7F, 0x3F }; /* +0x1FFFFFFF */

	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, lnotab, INT_MAX, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, lnotab, INT_MIN, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_S8, lnotab, INT_MIN + 2, 0), INT_MIN);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LNOTAB_U8, one, INT_MAX - 1, 0), INT_MAX);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t310, INT_MAX, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t310, INT_MAX, 2), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_310, t310, INT_MAX - 254, 2), INT_MAX);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, loc, INT_MAX, 0), -1);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, loc, INT_MIN, 0), INT_MIN + 0x1FFFFFFF);
	CU_ASSERT_EQUAL(LINE(PYSPY_LINES_LOCATIONS, loc, 1, 0), 0x20000000);
}

UNIT_SUITE(linetable_suite)
{
	CU_pSuite s = CU_add_suite("core/linetable", NULL, NULL);

	CU_add_test(s, "negative address gives firstlineno", test_negative_addr);
	CU_add_test(s, "unknown model gives -1", test_unknown_model);
	CU_add_test(s, "lnotab, unsigned and signed deltas", test_lnotab);
	CU_add_test(s, "lnotab edges", test_lnotab_edges);
	CU_add_test(s, "3.10 table: -128, zero-length ranges", test_310);
	CU_add_test(s, "3.10 table edges", test_310_edges);
	CU_add_test(s, "3.11+ table: every entry code", test_locations_all_codes);
	CU_add_test(s, "3.11+ short forms 0-9, lengths 1-8", test_locations_short_forms);
	CU_add_test(s, "3.11+ varints and svarints", test_locations_varints);
	CU_add_test(s, "3.11+ malformed tables give -1", test_locations_malformed);
	CU_add_test(s, "3.11+ prefixes and garbage stay in bounds", test_locations_prefixes);
	CU_add_test(s, "extreme firstlineno", test_extreme_firstlineno);
}
