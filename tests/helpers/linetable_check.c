/*
 * linetable_check: the core's line-table decoder against lines CPython gave.
 *
 *   linetable_check < CASES
 *
 * Each input line is "MODEL FIRSTLINENO HEX ADDR EXPECTED": MODEL an enum
 * pyspy_line_table value, HEX the table bytes ("-" for an empty table, "="
 * for the same table as the line before, to keep the input small), ADDR
 * the byte offset the core would pass (negative: not started), EXPECTED the
 * line CPython itself gives (-1 for none).  Every mismatch is printed; the
 * last line is "checked N mismatches M".  Exit 0 when M is 0, 1 when not,
 * 2 on malformed input.
 *
 * The decoder is compiled in (core/linetable.c is pure), so this program
 * links nothing of the core.  The table is copied into a buffer of exactly
 * its size so that an ASan build catches a read past its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/linetable.c"

#define MAX_PRINTED 50

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into a new buffer of exactly the table's size. */
static int parse_hex(const char *hex, uint8_t **out, size_t *n)
{
	size_t len = strlen(hex), i;
	uint8_t *t;

	*out = NULL;
	*n = 0;
	if (strcmp(hex, "-") == 0)
		return 0;
	if (len % 2)
		return -1;
	t = malloc(len / 2 ? len / 2 : 1);
	if (!t)
		return -1;
	for (i = 0; i < len / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(t);
			return -1;
		}
		t[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = t;
	*n = len / 2;
	return 0;
}

int main(void)
{
	char *line = NULL, *hex = NULL, *prev_hex = NULL;
	size_t cap = 0, ntable = 0;
	uint8_t *table = NULL;
	unsigned long long checked = 0, bad = 0, lineno = 0;
	int rc = 0;

	while (getline(&line, &cap, stdin) > 0) {
		unsigned model;
		int first, expected, got;
		long long addr;

		lineno++;
		if (line[0] == '\n' || line[0] == '#')
			continue;
		free(hex);
		hex = malloc(strlen(line) + 1);
		if (!hex || sscanf(line, "%u %d %s %lld %d", &model, &first, hex, &addr, &expected) != 5) {
			fprintf(stderr, "linetable_check: line %llu: malformed\n", lineno);
			rc = 2;
			break;
		}
		if (strcmp(hex, "=") == 0 && !prev_hex) {
			fprintf(stderr, "linetable_check: line %llu: '=' with no table before\n", lineno);
			rc = 2;
			break;
		}
		/* Consecutive lines usually share a table: decode the hex once. */
		if (strcmp(hex, "=") != 0 && (!prev_hex || strcmp(prev_hex, hex) != 0)) {
			free(table);
			free(prev_hex);
			prev_hex = strdup(hex);
			if (!prev_hex || parse_hex(hex, &table, &ntable)) {
				fprintf(stderr, "linetable_check: line %llu: bad table\n", lineno);
				rc = 2;
				break;
			}
		}
		got = linetable_line(model, table, ntable, first, (int64_t)addr);
		checked++;
		if (got != expected) {
			if (bad < MAX_PRINTED)
				printf("mismatch: model %u firstlineno %d table %s addr %lld: "
				       "CPython %d, decoder %d\n", model, first, prev_hex, addr, expected, got);
			bad++;
		}
	}
	free(line);
	free(hex);
	free(prev_hex);
	free(table);
	printf("checked %llu mismatches %llu\n", checked, bad);
	if (rc)
		return rc;
	if (checked == 0) {
		fprintf(stderr, "linetable_check: no cases\n");
		return 2;
	}
	return bad ? 1 : 0;
}
