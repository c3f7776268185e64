/*
 * plugins.ini's INI dialect (core/ini.c) and what reading a large or hostile
 * file costs: the work is counted (hash slots looked at), never timed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../core/config.h"
#include "../../core/host.h"
#include "../../core/ini.h"
#include "../../core/util.h"
#include "unit.h"

static char ini_tmp[64];

static int ini_setup(void)
{
	return unit_make_tmpdir(ini_tmp, sizeof(ini_tmp), "ini");
}

static int ini_teardown(void)
{
	return unit_remove_tree(ini_tmp);
}

static const char *write_text(const char *name, const char *text, size_t len)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", ini_tmp, name);
	f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fwrite(text, 1, len, f);
	fclose(f);
	chmod(path, 0644);
	return path;
}

static int parse(struct ini *ini, const char *text, char *err, size_t errlen)
{
	return ini_parse(ini, text, strlen(text), "t.ini", 42, err, errlen);
}

static void expect_parse_error(const char *text, const char *what)
{
	struct ini ini;
	char err[512] = "";

	CU_ASSERT_EQUAL(parse(&ini, text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	CU_ASSERT_PTR_NULL(strchr(err, '\n'));
	if (!strstr(err, what))
		fprintf(stderr, "\n  expected \"%s\" in: %s\n", what, err);
	CU_ASSERT_EQUAL(ini.nkeys + ini.nsections, 0);
}

static void test_dialect(void)
{
	const struct ini_key *k;
	struct ini ini;
	char err[512] = "";

	CU_ASSERT_EQUAL_FATAL(parse(&ini,
				    "# comment\n"
				    "[ Sec ]\n"
				    "A = 1 ; comment\n"
				    "b = \"x ; y\" trailing\n"
				    "c = 'q # r'\n"
				    "d =\n"
				    "e = \"\"\n"
				    "f = one \\\n"
				    "  two\r\n"
				    "[other]\n"
				    "g = 7\n"
				    "[SEC]\n"
				    "h = again\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(ini.nsections, 2);
	CU_ASSERT_STRING_EQUAL(ini.sections[0].name, "sec");
	CU_ASSERT_EQUAL(ini.sections[0].line, 2);
	CU_ASSERT_EQUAL(ini.nkeys, 8);
	k = ini_key(&ini, "SEC", "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_STRING_EQUAL(k->value, "1");
	CU_ASSERT_EQUAL(k->line, 3);
	CU_ASSERT_STRING_EQUAL(ini_key(&ini, "sec", "b")->value, "x ; y");
	CU_ASSERT_STRING_EQUAL(ini_key(&ini, "sec", "c")->value, "q # r");
	CU_ASSERT_STRING_EQUAL(ini_key(&ini, "sec", "d")->value, "");
	CU_ASSERT_STRING_EQUAL(ini_key(&ini, "sec", "e")->value, "");
	k = ini_key(&ini, "sec", "f");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_STRING_EQUAL(k->value, "one   two");
	CU_ASSERT_EQUAL(k->line, 8);
	/* the section continued further down, and lines counted past the join */
	k = ini_key(&ini, "sec", "h");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_EQUAL(k->line, 13);
	CU_ASSERT_PTR_NULL(ini_key(&ini, "other", "a"));
	CU_ASSERT_PTR_NOT_NULL(ini_section(&ini, "Other"));
	ini_free(&ini);
}

static void test_errors(void)
{
	char big[INI_MAX_LINE + 64];

	expect_parse_error("[a]\nno equals\n", "t.ini:2: syntax error: no equals");
	expect_parse_error("[a]\n = 1\n", "t.ini:2: syntax error: = 1");
	expect_parse_error("[]\n", "t.ini:1: syntax error: []");
	expect_parse_error("[a\n", "t.ini:1: syntax error");
	expect_parse_error("k = 1\n", "t.ini:1: k: key outside any section");
	expect_parse_error("[a]\nk = 1\n[b]\n[A]\nK = 2\n", "t.ini:5: [a] k: given twice (first at line 2)");
	expect_parse_error("[a]\nk = \033[31m\n", "t.ini:2: a control character or NUL byte");
	/* a terminal escape in a syntax error is not echoed raw */
	expect_parse_error("[a]\n\tx\xe2\x80\xae\n", "syntax error: x???");
	memset(big, 'x', sizeof(big));
	memcpy(big, "[a]\nk = ", 8);
	big[sizeof(big) - 1] = '\0';
	expect_parse_error(big, "t.ini:2: line longer than 4096 bytes");
}

/* A UTF-8 byte order mark at the start is skipped. */
static void test_bom(void)
{
	struct ini ini;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(parse(&ini, "\xef\xbb\xbf[a]\nk = v\n", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ini_key(&ini, "a", "k")->value, "v");
	ini_free(&ini);
}

/* A NUL byte in the middle of the text is not the end of it. */
static void test_nul_byte(void)
{
	struct ini ini;
	char err[256] = "";

	CU_ASSERT_EQUAL(ini_parse(&ini, "[a]\nk = 1\0\n[b]\n", 15, "t.ini", 1, err, sizeof(err)),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.ini:2: a control character or NUL byte"));
}

/* Writes name: head, then nkeys lines key_fmt % i, then nsections lines
 * section_fmt % i (formats of one %zu); returns its path. */
static const char *write_many(const char *name, const char *head, const char *key_fmt,
			      size_t nkeys, const char *section_fmt, size_t nsections)
{
	const char *path;
	struct strbuf sb;
	size_t i;

	sb_init(&sb);
	sb_puts(&sb, head);
	for (i = 0; i < nkeys; i++)
		sb_printf(&sb, key_fmt, i);
	for (i = 0; i < nsections; i++)
		sb_printf(&sb, section_fmt, i);
	path = write_text(name, sb.buf, sb.len);
	sb_free(&sb);
	return path;
}

/*
 * The 40,000 sections (36 s before): 40,000 output modules, each
 * with its own section, read with work (hash slots looked at) in proportion
 * to the entries.  A quadratic reader looks at about n^2 / 2 = 8e8 slots.
 */
static void test_many_sections(void)
{
	const size_t n = 40000;
	char err[1024] = "";
	struct config *cfg = NULL;
	const char *path;

	path = write_many("many.ini", "[outputs]\n", "m%zu = m.so\n", n, "[m%zu]\n", n);
	CU_ASSERT_EQUAL_FATAL(config_load(path, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg->nmodules, n);
	CU_ASSERT_STRING_EQUAL(cfg->modules[n - 1].name, "m39999");
	CU_ASSERT_EQUAL(cfg->modules[n - 1].kind, PYSPY_KIND_OUTPUT);
	CU_ASSERT_EQUAL(cfg->ini->nsections, n + 1);
	/* each of the 2n + 1 entries is added and looked up about eight times,
	 * at a little over one slot each (9.3 slots an entry when measured) */
	CU_ASSERT(cfg->work < 40 * (2 * n + 1));
	if (cfg->work >= 40 * (2 * n + 1) || getenv("PYSPY_TEST_VERBOSE"))
		fprintf(stderr, "\n  %llu slots looked at for %zu entries\n", cfg->work, 2 * n + 1);
	config_free(cfg);

	/* 40,000 sections that name no module: the first is the error */
	path = write_many("unknown.ini", "[outputs]\ndump = d.so\n", "", 0, "[s%zu]\n", n);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown.ini:3: [s0]: unknown section"));
}

/* What a hostile file can make py-spy do is bounded. */
static void test_bounds(void)
{
	char err[1024] = "";
	struct config *cfg = NULL;
	struct strbuf sb;
	const char *path;

	/* more sections and keys than INI_MAX_ENTRIES */
	path = write_many("entries.ini", "", "", 0, "[s%zu]\n", INI_MAX_ENTRIES + 1);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "more than 131072 sections and keys"));
	CU_ASSERT_PTR_NULL(cfg);

	/* more scan folders than 64 */
	path = write_many("scans.ini", "[layouts]\nscan = a", ",a%zu", 64, "", 0);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "scans.ini:2: [layouts] scan: more than 64 folders"));
	CU_ASSERT_PTR_NULL(cfg);

	/* a file larger than INI_MAX_BYTES: refused before it is read */
	sb_init(&sb);
	while (sb.len <= INI_MAX_BYTES)
		sb_puts(&sb, "; a comment line, over and over, to make the file large\n");
	path = write_text("large.ini", sb.buf, sb.len);
	sb_free(&sb);
	CU_ASSERT_EQUAL(config_load(path, &cfg, err, sizeof(err)), -EFBIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "larger than 4194304 bytes"));
	CU_ASSERT_PTR_NULL(cfg);
}

/* Scanned layout files are taken in version order: 3.9 before 3.10,
 * a name before its longer forms; only files with the host's module suffix
 * (".so" here) are taken. */
static void test_scan_order(void)
{
	static const char *const files[] = { "cpython-3.10-debug.so", "cpython-3.10.so",
					     "cpython-3.9.so", "cpython-2.7.so", "cpython-3.010x.so",
					     "other.txt", "cpython-3.8.dll", "cpython-3.7.dylib" };
	static const char *const order[] = { "cpython-2.7", "cpython-3.9", "cpython-3.10",
					      "cpython-3.10-debug", "cpython-3.010x" };
	char dir[PATH_MAX], p[PATH_MAX], err[1024] = "";
	struct config *cfg = NULL;
	const char *path;
	size_t i;

	CU_ASSERT_STRING_EQUAL(host_module_suffix(), ".so");
	snprintf(dir, sizeof(dir), "%s/lays", ini_tmp);
	mkdir(dir, 0755);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "lays/%s", files[i]);
		write_text(p, "", 0);
	}
	path = write_text("order.ini", "[layouts]\nscan = lays\n", 22);
	CU_ASSERT_EQUAL_FATAL(config_load(path, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(cfg->nmodules, 5);
	for (i = 0; i < 5; i++)
		CU_ASSERT_STRING_EQUAL(cfg->modules[i].name, order[i]);
	config_free(cfg);
}

UNIT_SUITE(suite_config_ini)
{
	CU_pSuite s = CU_add_suite("plugins.ini reader", ini_setup, ini_teardown);

	CU_add_test(s, "the INI dialect", test_dialect);
	CU_add_test(s, "errors name file:line", test_errors);
	CU_add_test(s, "a NUL byte is an error", test_nul_byte);
	CU_add_test(s, "a byte order mark is skipped", test_bom);
	CU_add_test(s, "40,000 sections: linear work", test_many_sections);
	CU_add_test(s, "sizes and counts are bounded", test_bounds);
	CU_add_test(s, "scanned layouts in version order", test_scan_order);
}
