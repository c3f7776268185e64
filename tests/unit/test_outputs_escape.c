/*
 * outputs/common's one escaper (escape.c), linked in directly: every
 * policy keeps what moves a terminal's cursor, changes its colours or
 * reorders text (C0, DEL, C1, U+202E and the other bidirectional controls,
 * U+2028, U+2029) and invalid UTF-8 from being written raw, and adds what
 * its format needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../outputs/common/common.h"
#include "unit.h"

/* s escaped by policy into a string the caller frees. */
static char *esc(const char *s, enum outc_esc policy)
{
	struct outc_buf b = { 0 };

	CU_ASSERT_EQUAL(outc_escape_buf(unit_host(), &b, s, policy), 0);
	return b.p ? b.p : calloc(1, 1);
}

static void check(const char *s, enum outc_esc policy, const char *want)
{
	char *got = esc(s, policy);

	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\npolicy %d: got \"%s\", want \"%s\"\n", (int)policy, got, want);
	free(got);
}

/* RLO, LINE SEPARATOR, PARAGRAPH SEPARATOR, LRI, RLM, ALM, CSI (C1), ESC */
static const char evil[] = "a\xe2\x80\xae" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d\xe2\x81\xa6"
			   "e\xe2\x80\x8f" "f\xd8\x9c" "g\xc2\x9b" "h\x1b" "i";

static void test_terminal(void)
{
	check(evil, OUTC_ESC_TERMINAL,
	      "a\\u202eb\\u2028c\\u2029d\\u2066e\\u200ff\\u061cg\\u009bh\\x1bi");
	check("tab\there\x7f", OUTC_ESC_TERMINAL, "tab\\x09here\\x7f");
	/* invalid UTF-8: one U+FFFD per maximal invalid part */
	check("x\xff\xe2\x80y\xed\xa0\x80z", OUTC_ESC_TERMINAL,
	      "x\xef\xbf\xbd\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	/* what is safe stays as it is */
	check("na\xc3\xafve \xe5\x87\xbd\xe6\x95\xb0 \xf0\x9f\x90\x8d \\ \"q\"", OUTC_ESC_TERMINAL,
	      "na\xc3\xafve \xe5\x87\xbd\xe6\x95\xb0 \xf0\x9f\x90\x8d \\ \"q\"");
}

static void test_json(void)
{
	check(evil, OUTC_ESC_JSON,
	      "a\\u202eb\\u2028c\\u2029d\\u2066e\\u200ff\\u061cg\\u009bh\\u001bi");
	check("q\"b\\s\n\r\t\b\f\x01\x7f", OUTC_ESC_JSON,
	      "q\\\"b\\\\s\\n\\r\\t\\b\\f\\u0001\\u007f");
	check("\xff", OUTC_ESC_JSON, "\xef\xbf\xbd");
}

static void test_plain_formats(void)
{
	check(evil, OUTC_ESC_LABEL, "a?b?c?d?e?f?g?h?i");
	check("a;b\n<&\"'>\xef\xbf\xbe", OUTC_ESC_COLLAPSED, "a:b?<&\"'>\xef\xbf\xbd");
	check("a;b\n<&\"'>\xef\xbf\xbf", OUTC_ESC_XML, "a;b?&lt;&amp;&quot;&#39;&gt;\xef\xbf\xbd");
	check(evil, OUTC_ESC_XML, "a?b?c?d?e?f?g?h?i");
	/* a label made safe once is unchanged by XML but for its entities */
	check("a?b\xef\xbf\xbd", OUTC_ESC_XML, "a?b\xef\xbf\xbd");
}

/* A fixed buffer (host NULL) is cut, never inside a character. */
static void test_fixed_buffer(void)
{
	char line[8];
	struct outc_buf b = { line, 0, sizeof(line) };

	CU_ASSERT_EQUAL(outc_buf_puts(NULL, &b, "abcde"), 0);
	CU_ASSERT_EQUAL(outc_escape_buf(NULL, &b, "\xe5\x87\xbd\xe6\x95\xb0", OUTC_ESC_TERMINAL),
			-ENOSPC);
	CU_ASSERT_STRING_EQUAL(line, "abcde");
	outc_buf_reset(&b);
	CU_ASSERT_EQUAL(outc_escape_buf(NULL, &b, "ab\xe5\x87\xbd\xe6\x95\xb0", OUTC_ESC_TERMINAL),
			-ENOSPC);
	CU_ASSERT_STRING_EQUAL(line, "ab\xe5\x87\xbd");
}

UNIT_SUITE(outputs_escape_suite)
{
	CU_pSuite s = CU_add_suite("outputs/common escape", NULL, NULL);

	CU_add_test(s, "terminal policy", test_terminal);
	CU_add_test(s, "JSON policy", test_json);
	CU_add_test(s, "label, collapsed and XML policies", test_plain_formats);
	CU_add_test(s, "a fixed buffer is cut at a character", test_fixed_buffer);
}
