/*
 * Small core pieces: string interning (core/intern.c), UTF-8 encoding of
 * code points (utf8_put, core/pyobject.c), the mapped-memory check and the
 * field accessors (core/remote.c), and py-spy's short file names
 * (codecache_short_filename, core/codecache.c) over a temporary package
 * tree.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pyspy/backend.h>

#include "../../core/codecache.h"
#include "../../core/intern.h"
#include "../../core/pyobject.h"
#include "../../core/remote.h"
#include "../../core/util.h"
#include "unit.h"

/* ---- intern ------------------------------------------------------------ */

static void test_intern_identity(void)
{
	struct interner in;
	char buf[16];
	const char *a, *b, *c, *e;

	intern_init(&in);
	strcpy(buf, "spam");
	a = intern(&in, buf);
	CU_ASSERT_PTR_NOT_EQUAL(a, buf);           /* a copy */
	strcpy(buf, "eggs");
	CU_ASSERT_STRING_EQUAL(a, "spam");          /* not affected by the source */
	b = intern(&in, "spam");
	CU_ASSERT_PTR_EQUAL(a, b);
	c = intern(&in, "eggs");
	CU_ASSERT_PTR_NOT_EQUAL(a, c);
	CU_ASSERT_PTR_EQUAL(intern_n(&in, "spammy", 4), a);  /* a prefix */
	CU_ASSERT_PTR_NOT_EQUAL(intern_n(&in, "spammy", 5), a);
	CU_ASSERT_STRING_EQUAL(intern_n(&in, "spammy", 5), "spamm");
	e = intern(&in, "");
	CU_ASSERT_STRING_EQUAL(e, "");
	CU_ASSERT_PTR_EQUAL(intern_n(&in, "xyz", 0), e);
	/* Embedded NULs: the length counts. */
	CU_ASSERT_PTR_NOT_EQUAL(intern_n(&in, "a\0b", 3), intern(&in, "a"));
	CU_ASSERT_PTR_EQUAL(intern_n(&in, "a\0b", 3), intern_n(&in, "a\0b", 3));
	CU_ASSERT_EQUAL(memcmp(intern_n(&in, "a\0b", 3), "a\0b", 4), 0);
	intern_free(&in);
}

/* Many strings: the table grows and every pointer stays the same. */
static void test_intern_growth(void)
{
	enum { N = 20000 };
	struct interner in;
	const char **first = calloc(N, sizeof(*first));
	char name[32];
	int i, ok = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(first);
	memset(&in, 0, sizeof(in)); /* never initialised: the first call does it */
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "name-%d", i);
		first[i] = intern(&in, name);
	}
	CU_ASSERT_EQUAL(in.count, N + 1); /* and the "?" kept for when the budget is spent */
	CU_ASSERT(in.nslots >= N);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "name-%d", i);
		ok &= intern(&in, name) == first[i] && strcmp(first[i], name) == 0;
	}
	CU_ASSERT_TRUE(ok);
	CU_ASSERT_EQUAL(in.count, N + 1);
	CU_ASSERT_PTR_EQUAL(intern(&in, "?"), in.fallback);
	intern_free(&in);
	CU_ASSERT_PTR_NULL(in.slots);
	CU_ASSERT_EQUAL(in.count, 0);
	/* Usable again after free. */
	CU_ASSERT_STRING_EQUAL(intern(&in, "again"), "again");
	intern_free(&in);
	free(first);
}

/* ---- utf8_put ---------------------------------------------------------- */

static void expect_utf8(uint32_t cp, const char *want, size_t n)
{
	struct strbuf sb;

	sb_init(&sb);
	utf8_put(&sb, cp);
	CU_ASSERT_EQUAL(sb.len, n);
	CU_ASSERT(sb.len == n && memcmp(sb.buf, want, n) == 0);
	if (sb.len != n || memcmp(sb.buf, want, n) != 0)
		fprintf(stderr, "\n  U+%04X: wrong encoding (%zu bytes)\n", cp, sb.len);
	sb_free(&sb);
}

static void test_utf8(void)
{
	expect_utf8(0x00, "\0", 1);
	expect_utf8(0x41, "A", 1);
	expect_utf8(0x7F, "\x7f", 1);
	expect_utf8(0x80, "\xc2\x80", 2);
	expect_utf8(0xE9, "\xc3\xa9", 2);
	expect_utf8(0x7FF, "\xdf\xbf", 2);
	expect_utf8(0x800, "\xe0\xa0\x80", 3);
	expect_utf8(0x20AC, "\xe2\x82\xac", 3);
	expect_utf8(0xD7FF, "\xed\x9f\xbf", 3);
	expect_utf8(0xE000, "\xee\x80\x80", 3);
	expect_utf8(0xFFFD, "\xef\xbf\xbd", 3);
	expect_utf8(0xFFFF, "\xef\xbf\xbf", 3);
	expect_utf8(0x10000, "\xf0\x90\x80\x80", 4);
	expect_utf8(0x1F600, "\xf0\x9f\x98\x80", 4);
	expect_utf8(0x10FFFF, "\xf4\x8f\xbf\xbf", 4);
	/* Surrogates and beyond Unicode: U+FFFD. */
	expect_utf8(0xD800, "\xef\xbf\xbd", 3);
	expect_utf8(0xDBFF, "\xef\xbf\xbd", 3);
	expect_utf8(0xDC00, "\xef\xbf\xbd", 3);
	expect_utf8(0xDFFF, "\xef\xbf\xbd", 3);
	expect_utf8(0x110000, "\xef\xbf\xbd", 3);
	expect_utf8(0x7FFFFFFF, "\xef\xbf\xbd", 3);
	expect_utf8(0xFFFFFFFF, "\xef\xbf\xbd", 3);
}

/* ---- remote_mapped and field accessors --------------------------------- */

static void test_remote_mapped(void)
{
	struct remote_range ranges[] = {
		{ 0x1000, 0x2000, PYSPY_PROT_READ },
		{ 0x2000, 0x3000, PYSPY_PROT_READ | PYSPY_PROT_EXEC }, /* adjacent */
		{ 0x3000, 0x4000, PYSPY_PROT_WRITE },                 /* not readable */
		{ 0x5000, 0x6000, PYSPY_PROT_READ },                  /* after a gap */
		{ 0x6000, 0x7000, PYSPY_PROT_READ | PYSPY_PROT_WRITE },
		{ 0x8000, 0x9000, PYSPY_PROT_READ },
		{ 0xFFFFFFFFFFFF0000ull, 0xFFFFFFFFFFFFF000ull, PYSPY_PROT_READ },
	};
	struct remote r;

	memset(&r, 0, sizeof(r));
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1000, 1), 0); /* no map at all */
	r.ranges = ranges;
	r.nranges = sizeof(ranges) / sizeof(ranges[0]);

	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1000, 16), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1FFF, 1), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1FF8, 16), 1);      /* across adjacent ranges */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1000, 0x2000), 1);  /* both, whole */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1000, 0x2001), 0);  /* into the unreadable one */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x2FFF, 1), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x2FFF, 2), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x3000, 1), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x3FFF, 8), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x4000, 1), 0);       /* the gap */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x4FFF, 2), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x5000, 0x2000), 1);  /* R then RW */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x6FFF, 1), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x6FFF, 2), 0);       /* runs into a gap */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x5000, 0x4000), 0);  /* spans a gap */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x8FFF, 1), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x9000, 1), 0);       /* end is exclusive */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x800, 16), 0);       /* below every range */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0, 8), 0);            /* NULL never */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0xFFFFFFFFFFFF0000ull, 16), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0xFFFFFFFFFFFFEFF8ull, 16), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0xFFFFFFFFFFFFFFF8ull, 16), 0); /* wraps */
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x1000, SIZE_MAX), 0);
}

/* A long run of adjacent ranges, and a hole in the middle of it. */
static void test_remote_mapped_many(void)
{
	enum { N = 1000 };
	struct remote_range *ranges = calloc(N, sizeof(*ranges));
	struct remote r;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ranges);
	for (i = 0; i < N; i++) {
		ranges[i].start = 0x100000 + i * 0x1000;
		ranges[i].end = ranges[i].start + 0x1000;
		ranges[i].prot = PYSPY_PROT_READ;
	}
	memset(&r, 0, sizeof(r));
	r.ranges = ranges;
	r.nranges = N;
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000, N * 0x1000), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000, N * 0x1000 + 1), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000 + 777 * 0x1000 + 5, 0x1000), 1);
	ranges[500].prot = 0;
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000, N * 0x1000), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000 + 499 * 0x1000, 0x1000), 1);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000 + 499 * 0x1000, 0x1001), 0);
	CU_ASSERT_EQUAL(remote_mapped(&r, 0x100000 + 501 * 0x1000, 0x1000 * 499), 1);
	free(ranges);
}

static void test_fields(void)
{
	static const uint8_t src[16] = {
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0xF0, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF,
	};
	uint8_t *b = malloc(sizeof(src));

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, src, sizeof(src));
	CU_ASSERT_EQUAL(field_ptr(b, 16, 0), 0x0807060504030201ull);
	CU_ASSERT_EQUAL(field_ptr(b, 16, 8), 0xFFFFFFFEFFFFFFF0ull);
	CU_ASSERT_EQUAL(field_i64(b, 16, 8), -4294967312LL);
	CU_ASSERT_EQUAL(field_u32(b, 16, 4), 0x08070605u);
	CU_ASSERT_EQUAL(field_u32(b, 16, 12), 0xFFFFFFFEu);
	CU_ASSERT_EQUAL(field_i32(b, 16, 12), -2);
	CU_ASSERT_EQUAL(field_i32(b, 16, 8), -16);
	CU_ASSERT_EQUAL(field_u8(b, 16, 15), 0xFF);
	CU_ASSERT_EQUAL(field_u8(b, 16, 2), 0x03);
	/* Out of the buffer, or absent (negative): 0, nothing read. */
	CU_ASSERT_EQUAL(field_ptr(b, 16, 9), 0);
	CU_ASSERT_EQUAL(field_ptr(b, 16, 16), 0);
	CU_ASSERT_EQUAL(field_ptr(b, 7, 0), 0);
	CU_ASSERT_EQUAL(field_u32(b, 16, 13), 0);
	CU_ASSERT_EQUAL(field_i32(b, 15, 12), 0);
	CU_ASSERT_EQUAL(field_u8(b, 16, 16), 0);
	CU_ASSERT_EQUAL(field_u8(b, 0, 0), 0);
	CU_ASSERT_EQUAL(field_ptr(b, 16, PYSPY_NO_OFFSET), 0);
	CU_ASSERT_EQUAL(field_u32(b, 16, -4), 0);
	CU_ASSERT_EQUAL(field_u8(b, 16, INT32_MIN), 0);
	CU_ASSERT_EQUAL(field_ptr(b, 16, INT32_MAX), 0);
	CU_ASSERT_EQUAL(field_u32(b, 16, INT32_MAX - 2), 0);
	free(b);
}

/* ---- short file names ---------------------------------------------------- */

static char tree[64];

static void touch(const char *rel)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fclose(f);
}

static void mkdir_in(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0755), 0);
}

static int tree_setup(void)
{
	return unit_make_tmpdir(tree, sizeof(tree), "short");
}

static int tree_teardown(void)
{
	return unit_remove_tree(tree);
}

/* The short name of tree/rel, checked against want (interned, cached). */
static void expect_short(struct codecache *cc, struct interner *in, const char *rel, const char *want)
{
	char path[PATH_MAX];
	const char *file, *got;

	if (rel[0] == '/')
		snprintf(path, sizeof(path), "%s%s", tree, rel);
	else
		snprintf(path, sizeof(path), "%s", rel);
	file = intern(in, path);
	got = codecache_short_filename(cc, file);
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n  %s: \"%s\", expected \"%s\"\n", path, got, want);
	/* The same file again: the same pointer (cached). */
	CU_ASSERT_PTR_EQUAL(codecache_short_filename(cc, file), got);
}

static void short_names_for_pid(int64_t pid)
{
	struct pyspy_layout l;
	struct interner in;
	struct codecache cc;
	char name[PATH_MAX];
	const char *got[100];
	int i, ok = 1;

	memset(&l, 0, sizeof(l));
	intern_init(&in);
	codecache_init(&cc, &l, NULL, &in, pid, 0);
	expect_short(&cc, &in, "/pkg/sub/mod.py", "pkg/sub/mod.py");
	expect_short(&cc, &in, "/pkg/sub/__init__.py", "pkg/sub/__init__.py");
	expect_short(&cc, &in, "/pkg/__init__.py", "pkg/__init__.py");
	expect_short(&cc, &in, "/pkg/top.py", "pkg/top.py");
	expect_short(&cc, &in, "/pkg/sub/gone.py", "pkg/sub/gone.py"); /* need not exist */
	expect_short(&cc, &in, "/pkg/plain/m.py", "m.py");      /* plain/ is no package */
	expect_short(&cc, &in, "/pkg/plain/inner/n.py", "inner/n.py");
	expect_short(&cc, &in, "/plain2/mod2.py", "mod2.py");
	expect_short(&cc, &in, "/script.py", "script.py");
	expect_short(&cc, &in, "<string>", "<string>");
	expect_short(&cc, &in, "<frozen importlib._bootstrap>", "<frozen importlib._bootstrap>");
	expect_short(&cc, &in, "relative/pkg/x.py", "relative/pkg/x.py");
	expect_short(&cc, &in, "", "");
	/* Outside the tree: /x.py (folder "" is never a package). */
	CU_ASSERT_STRING_EQUAL(codecache_short_filename(&cc, intern(&in, "/x.py")), "x.py");
	CU_ASSERT_STRING_EQUAL(codecache_short_filename(&cc, intern(&in, "/no/such/dir/y.py")), "y.py");
	/* The short name is interned. */
	snprintf(name, sizeof(name), "%s/pkg/sub/mod.py", tree);
	CU_ASSERT_PTR_EQUAL(codecache_short_filename(&cc, intern(&in, name)), intern(&in, "pkg/sub/mod.py"));

	/* Many names: the cache grows, earlier answers stay. */
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%s/pkg/f%d.py", tree, i);
		got[i] = codecache_short_filename(&cc, intern(&in, name));
	}
	for (i = 0; i < 100; i++) {
		char want[32];

		snprintf(name, sizeof(name), "%s/pkg/f%d.py", tree, i);
		snprintf(want, sizeof(want), "pkg/f%d.py", i);
		ok &= codecache_short_filename(&cc, intern(&in, name)) == got[i] && strcmp(got[i], want) == 0;
	}
	CU_ASSERT_TRUE(ok);
	codecache_free(&cc);
	intern_free(&in);
}

static void test_short_filenames(void)
{
	/* The tree's own folder must not be a package for the names above. */
	mkdir_in("pkg");
	mkdir_in("pkg/sub");
	mkdir_in("pkg/plain");
	mkdir_in("pkg/plain/inner");
	mkdir_in("plain2");
	touch("pkg/__init__.py");
	touch("pkg/sub/__init__.py");
	touch("pkg/sub/mod.py");
	touch("pkg/top.py");
	touch("pkg/plain/m.py");
	touch("pkg/plain/inner/__init__.py");
	touch("pkg/plain/inner/n.py");
	touch("plain2/mod2.py");
	touch("script.py");
	/* pid 0: the files as py-spy sees them; our own pid: through /proc/PID/root;
	 * a pid that does not exist: falls back to py-spy's view. */
	short_names_for_pid(0);
	short_names_for_pid(getpid());
	short_names_for_pid(0x7ffffff0);
}

UNIT_SUITE(core_strings_suite)
{
	CU_pSuite s = CU_add_suite("core/intern, utf8, remote", NULL, NULL);
	CU_pSuite t = CU_add_suite("core/codecache short file names", tree_setup, tree_teardown);

	CU_add_test(s, "intern: pointer identity", test_intern_identity);
	CU_add_test(s, "intern: growth keeps pointers", test_intern_growth);
	CU_add_test(s, "utf8_put: every length, U+FFFD for invalid", test_utf8);
	CU_add_test(s, "remote_mapped: adjacent, gaps, unreadable, wrap", test_remote_mapped);
	CU_add_test(s, "remote_mapped: a long run of ranges", test_remote_mapped_many);
	CU_add_test(s, "field accessors: bounds and sign", test_fields);
	CU_add_test(t, "short file names by package", test_short_filenames);
}
