/*
 * Unit tests of core/repr.c: Python's float and int forms, str and bytes
 * quoting, and whole reprs read from fabricated target memory (a made-up
 * 3.12-like layout over a local buffer), including memory that lies.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/backend.h>

#include "../../core/repr.h"
#include "unit.h"

/* ---- floats, ints, strings ----------------------------------------------- */

static void check_float(double v, const char *want)
{
	struct strbuf sb;

	sb_init(&sb);
	repr_float(v, &sb);
	CU_ASSERT_STRING_EQUAL(sb.buf, want);
	if (strcmp(sb.buf, want) != 0)
		fprintf(stderr, "float: got %s, want %s\n", sb.buf, want);
	sb_free(&sb);
}

static void test_repr_float(void)
{
	check_float(0.1, "0.1");
	check_float(1.0 / 3, "0.3333333333333333");
	check_float(1e16, "1e+16");
	check_float(1e15, "1000000000000000.0");
	check_float(123456.0, "123456.0");
	check_float(1e5, "100000.0");
	check_float(0.0001, "0.0001");
	check_float(0.00001, "1e-05");
	check_float(-2.5e-7, "-2.5e-07");
	check_float(1e22, "1e+22");
	check_float(0.0, "0.0");
	check_float(-0.0, "-0.0");
	check_float(5e-324, "5e-324");
	check_float(1.7976931348623157e308, "1.7976931348623157e+308");
	check_float(INFINITY, "inf");
	check_float(-INFINITY, "-inf");
	check_float(NAN, "nan");
}

static void test_repr_bigint(void)
{
	const uint32_t two64[] = { 0, 0, 16 };       /* 2**64 in 30-bit digits */
	const uint32_t billion[] = { 1000000000 };   /* a carry into the next chunk */
	const uint32_t zero[] = { 0 };
	uint32_t many[300];
	struct strbuf sb;

	sb_init(&sb);
	CU_ASSERT_EQUAL(repr_bigint(two64, 3, 30, 0, &sb), 0);
	CU_ASSERT_STRING_EQUAL(sb.buf, "18446744073709551616");
	sb_free(&sb);
	CU_ASSERT_EQUAL(repr_bigint(two64, 3, 30, 1, &sb), 0);
	CU_ASSERT_STRING_EQUAL(sb.buf, "-18446744073709551616");
	sb_free(&sb);
	CU_ASSERT_EQUAL(repr_bigint(billion, 1, 30, 0, &sb), 0);
	CU_ASSERT_STRING_EQUAL(sb.buf, "1000000000");
	sb_free(&sb);
	CU_ASSERT_EQUAL(repr_bigint(zero, 1, 30, 1, &sb), 0);
	CU_ASSERT_STRING_EQUAL(sb.buf, "0");
	sb_free(&sb);
	CU_ASSERT_EQUAL(repr_bigint(zero, 0, 15, 0, &sb), 0); /* no digits: 0 */
	CU_ASSERT_STRING_EQUAL(sb.buf, "0");
	sb_free(&sb);
	memset(many, 0, sizeof(many));
	CU_ASSERT_EQUAL(repr_bigint(many, 300, 30, 0, &sb), -E2BIG); /* over the bound */
	CU_ASSERT_EQUAL(repr_bigint(two64, 3, 31, 0, &sb), -E2BIG);  /* not a digit size */
	sb_free(&sb);
}

static void check_str(const uint32_t *cp, size_t n, int cut, const char *want)
{
	struct strbuf sb;

	sb_init(&sb);
	repr_str_codepoints(cp, n, cut, &sb);
	CU_ASSERT_STRING_EQUAL(sb.buf, want);
	if (strcmp(sb.buf, want) != 0)
		fprintf(stderr, "str: got %s, want %s\n", sb.buf, want);
	sb_free(&sb);
}

static void test_repr_strings(void)
{
	const uint32_t plain[] = { 'a', 'b' };
	const uint32_t apos[] = { 'i', 't', '\'', 's' };
	const uint32_t both[] = { '\'', '"' };
	const uint32_t esc[] = { '\n', '\t', '\\', 7, 0x7f, 0xa0, 0xe9, 0x65e5, 0x1f600, 0x2028 };
	const uint8_t bytes[] = { 0, 0xff, 'a', '\'', 'b' };
	struct strbuf sb;

	check_str(plain, 2, 0, "'ab'");
	check_str(plain, 2, 1, "'ab'...");
	check_str(apos, 4, 0, "\"it's\"");
	check_str(both, 2, 0, "'\\'\"'");
	check_str(esc, 10, 0, "'\\n\\t\\\\\\x07\\x7f\\xa0\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\\u2028'");
	check_str(plain, 0, 0, "''");
	sb_init(&sb);
	repr_bytes(bytes, sizeof(bytes), 0, "b", &sb);
	CU_ASSERT_STRING_EQUAL(sb.buf, "b\"\\x00\\xffa'b\"");
	sb_free(&sb);
	repr_bytes(bytes + 2, 1, 1, "", &sb);
	CU_ASSERT_STRING_EQUAL(sb.buf, "'a'...");
	sb_free(&sb);
}

/* ---- fabricated memory ------------------------------------------------------ */

#define BASE 0x100000ull
static uint8_t mem[1 << 16];

static int mem_read(struct pyspy_proc *proc, const struct pyspy_iov *iov, size_t n, size_t iov_size)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (iov[i].remote < BASE || iov[i].len > sizeof(mem) ||
		    iov[i].remote - BASE > sizeof(mem) - iov[i].len)
			return (int)i;
		memcpy(iov[i].local, mem + (iov[i].remote - BASE), iov[i].len);
	}
	return (int)n;
}

static const struct pyspy_backend_ops mem_ops = {
	.size = sizeof(struct pyspy_backend_ops),
	.platform = "fake",
	.read = mem_read,
};

/* Addresses of the fake objects. */
enum {
	T_LONG = 0x100, T_FLOAT = 0x200, T_STR = 0x300, T_BYTES = 0x400, T_TUPLE = 0x500,
	T_LIST = 0x600, T_OTHER = 0x700, T_SET = 0x780, NONE = 0x800, TRUE_ = 0x810, FALSE_ = 0x820,
	OBJ = 0x1000, /* objects from here */
};

static void put64(uint64_t at, uint64_t v)
{
	memcpy(mem + (at - BASE), &v, sizeof(v));
}

static void put32(uint64_t at, uint32_t v)
{
	memcpy(mem + (at - BASE), &v, sizeof(v));
}

static struct pyspy_layout fake_layout(void)
{
	struct pyspy_layout l;

	memset(&l, 0, sizeof(l));
	l.string_model = PYSPY_STRINGS_PEP393;
	l.object.ob_type = 8;
	l.object.ob_size = 16;
	l.object.tp_name = 24;
	l.tuple.ob_item = 24;
	l.bytes.ob_size = 16;
	l.bytes.ob_sval = 32;
	l.unicode.length = 16;
	l.unicode.state = 32;
	l.unicode.ascii_data = 40;
	l.unicode.compact_data = 56;
	l.unicode.legacy_data = 56;
	l.unicode.kind_shift = 2;
	l.unicode.compact_shift = 5;
	l.unicode.ascii_shift = 6;
	l.names.present = 1;
	l.names.long_tagged = 1;
	l.names.long_size = 16;
	l.names.long_digits = 24;
	l.names.long_shift = 30;
	l.names.int_ival = PYSPY_NO_OFFSET;
	l.locals.present = 1;
	l.locals.float_fval = 16;
	l.locals.list_ob_item = 24;
	l.locals.long_digit_size = 4;
	l.locals.set_used = 24;
	l.locals.set_mask = 32;
	l.locals.set_table = 40;
	l.locals.set_entry_size = 16;
	l.locals.set_entry_key = 0;
	return l;
}

static uint64_t next_obj;

static uint64_t new_obj(uint64_t type, size_t size)
{
	uint64_t at = next_obj;

	next_obj += (size + 15) & ~(size_t)15;
	put64(at + 8, BASE + type);
	return at;
}

static uint64_t mk_int(uint32_t digit, int neg)
{
	uint64_t o = new_obj(T_LONG, 32);

	put64(o + 16, digit ? (1u << 3) | (neg ? 2u : 0u) : 1u);
	put32(o + 24, digit);
	return o;
}

static uint64_t mk_ascii(const char *s)
{
	size_t n = strlen(s);
	uint64_t o = new_obj(T_STR, 40 + n + 1);

	put64(o + 16, n);
	put32(o + 32, (1u << 2) | (1u << 5) | (1u << 6)); /* kind 1, compact, ascii */
	memcpy(mem + (o + 40 - BASE), s, n);
	return o;
}

static uint64_t mk_seq(uint64_t type, const uint64_t *items, size_t n)
{
	uint64_t o = new_obj(type, 32 + 8 * n), at = o + 24, i;

	put64(o + 16, n);
	if (type == T_LIST) {
		uint64_t arr = new_obj(T_OTHER, 8 * n + 16);

		put64(o + 24, arr);
		at = arr;
	}
	for (i = 0; i < n; i++)
		put64(at + 8 * i, items[i]);
	return o;
}

static void check_repr(struct repr_ctx *c, uint64_t obj, const char *want)
{
	struct strbuf sb;

	sb_init(&sb);
	c->budget = 1 << 20;
	repr_object(c, obj, &sb);
	CU_ASSERT_STRING_EQUAL(sb.buf, want);
	if (strcmp(sb.buf, want) != 0)
		fprintf(stderr, "repr: got %s, want %s\n", sb.buf, want);
	sb_free(&sb);
}

static void test_repr_memory(void)
{
	struct pyspy_layout l = fake_layout();
	struct remote r;
	struct repr_ctx c;
	uint64_t items[4], list, self, huge, bad, other, f, s, b;
	char want[128];

	memset(mem, 0, sizeof(mem));
	next_obj = BASE + OBJ;
	memset(&r, 0, sizeof(r));
	r.ops = &mem_ops;
	memset(&c, 0, sizeof(c));
	c.r = &r;
	c.l = &l;
	c.t = (struct repr_types){
		.none = BASE + NONE, .true_ = BASE + TRUE_, .false_ = BASE + FALSE_,
		.long_ = BASE + T_LONG, .float_ = BASE + T_FLOAT, .str = BASE + T_STR,
		.bytes = BASE + T_BYTES, .tuple = BASE + T_TUPLE, .list = BASE + T_LIST, .set = BASE + T_SET,
	};
	c.lim = (struct repr_limits){ .max_chars = 8, .max_items = 3, .max_depth = 2, .max_repr = 200 };
	CU_ASSERT(repr_supported(&l));
	put64(BASE + T_OTHER + 24, BASE + T_OTHER + 64);
	memcpy(mem + T_OTHER + 64, "Widget", 7);

	check_repr(&c, BASE + NONE, "None");
	check_repr(&c, BASE + FALSE_, "False");
	check_repr(&c, mk_int(12345, 1), "-12345");
	check_repr(&c, mk_int(0, 0), "0");
	f = new_obj(T_FLOAT, 24);
	{
		double v = 2.5;

		memcpy(mem + (f + 16 - BASE), &v, 8);
	}
	check_repr(&c, f, "2.5");
	s = mk_ascii("it's");
	check_repr(&c, s, "\"it's\"");
	check_repr(&c, mk_ascii("0123456789"), "'01234567'...");   /* cut at max_chars */
	b = new_obj(T_BYTES, 40);
	put64(b + 16, 2);
	memcpy(mem + (b + 32 - BASE), "\x01z", 2);
	check_repr(&c, b, "b'\\x01z'");

	items[0] = mk_int(1, 0);
	check_repr(&c, mk_seq(T_TUPLE, items, 1), "(1,)");
	check_repr(&c, mk_seq(T_TUPLE, items, 0), "()");
	items[1] = BASE + NONE;
	items[2] = BASE + TRUE_;
	items[3] = s;
	list = mk_seq(T_LIST, items, 4);
	check_repr(&c, list, "[1, None, True, ...]");            /* cut at max_items */

	/* A list that holds itself: bounded by depth. */
	self = mk_seq(T_LIST, items, 1);
	items[0] = self;
	{
		uint64_t arr;

		memcpy(&arr, mem + (self + 24 - BASE), 8);
		put64(arr, self);
	}
	check_repr(&c, self, "[[[...]]]");

	/* Lies: a size no object has, a type pointer into nowhere, a digit
	 * wider than its shift, a str of an unknown kind. */
	huge = mk_seq(T_TUPLE, items, 1);
	put64(huge + 16, (uint64_t)-5);
	check_repr(&c, huge, "<unreadable>");
	bad = new_obj(T_LONG, 32);
	put64(bad + 8, 0xdead0000ull);
	check_repr(&c, bad, "<unreadable>");
	bad = mk_int(5, 0);
	put32(bad + 24, 0xffffffffu);
	check_repr(&c, bad, "<unreadable>");
	bad = mk_ascii("x");
	put32(bad + 32, 3u << 2);
	check_repr(&c, bad, "<unreadable>");
	check_repr(&c, 0, "<unreadable>");
	check_repr(&c, 0xfffffffffffffff0ull, "<unreadable>");
	/* Inside a container, the rest is still shown. */
	items[0] = bad;
	items[1] = BASE + NONE;
	check_repr(&c, mk_seq(T_TUPLE, items, 2), "(<unreadable>, None)");

	/* A set: empty slots and a deleted one (hash -1) are skipped. */
	{
		uint64_t set = new_obj(T_SET, 48), table = new_obj(T_OTHER, 8 * 16), one = mk_int(1, 0);

		put64(set + 24, 2);           /* used */
		put64(set + 32, 7);           /* mask */
		put64(set + 40, table);
		put64(table + 1 * 16, mk_int(9, 0));
		put64(table + 1 * 16 + 8, (uint64_t)-1);   /* deleted */
		put64(table + 3 * 16, one);
		put64(table + 3 * 16 + 8, 1);
		put64(table + 6 * 16, BASE + NONE);
		put64(table + 6 * 16 + 8, 5);
		check_repr(&c, set, "{1, None}");
		put64(set + 24, 0);
		check_repr(&c, set, "set()");
		put64(set + 24, 9);           /* more than mask + 1 */
		check_repr(&c, set, "<unreadable>");
	}

	other = new_obj(T_OTHER, 16);
	snprintf(want, sizeof(want), "<Widget at 0x%llx>", (unsigned long long)other);
	check_repr(&c, other, want);

	/* The byte budget: nothing is read past it. */
	{
		struct strbuf sb;

		sb_init(&sb);
		c.budget = 8;
		repr_object(&c, list, &sb);
		CU_ASSERT_STRING_EQUAL(sb.buf, "<unreadable>");
		sb_free(&sb);
	}
}

UNIT_SUITE(repr_suite)
{
	CU_pSuite s = CU_add_suite("core/repr", NULL, NULL);

	CU_add_test(s, "float reprs as Python's", test_repr_float);
	CU_add_test(s, "ints of any size in decimal", test_repr_bigint);
	CU_add_test(s, "str and bytes quoting", test_repr_strings);
	CU_add_test(s, "reprs from fabricated memory", test_repr_memory);
}
