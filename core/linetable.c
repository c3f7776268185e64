/*
 * CPython line tables (see linetable.h).  Every loop is bounded by the
 * table's length; malformed tables give -1, never a crash.
 */
#include <limits.h>

#include <pyspy/layout.h>

#include "linetable.h"

/* Lines add up in 64 bits: a garbage firstlineno or delta must not
 * overflow an int.  A sum out of range is no line. */
static int line_or_none(int64_t line)
{
	return line < INT_MIN || line > INT_MAX ? -1 : (int)line;
}

/* co_lnotab: pairs (address increment, line increment). */
static int lnotab_line(const uint8_t *t, size_t n, int64_t line, int64_t addr, int signed_deltas)
{
	int64_t a = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		a += t[i];
		if (a > addr)
			break;
		line += signed_deltas ? (int8_t)t[i + 1] : t[i + 1];
	}
	return line_or_none(line);
}

/* 3.10 co_linetable: pairs (range length, line delta); -128 = no line. */
static int linetable310_line(const uint8_t *t, size_t n, int64_t line, int64_t addr)
{
	int64_t end = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		int64_t start = end;
		int delta = (int8_t)t[i + 1];
		int64_t cur;

		end = start + t[i];
		if (delta == -128) {
			cur = -1;
		} else {
			line += delta;
			cur = line;
		}
		if (start <= addr && addr < end)
			return line_or_none(cur);
	}
	return -1;
}

/* 3.11+ location table: varints of 6-bit chunks, 0x40 = more follows. */
static int read_varint(const uint8_t *t, size_t n, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	unsigned shift = 0;

	for (;;) {
		uint8_t b;

		if (*i >= n || shift > 30)
			return -1;
		b = t[(*i)++];
		v |= (uint32_t)(b & 63) << shift;
		shift += 6;
		if (!(b & 64))
			break;
	}
	*out = v;
	return 0;
}

static int read_svarint(const uint8_t *t, size_t n, size_t *i, int *out)
{
	uint32_t v;

	if (read_varint(t, n, i, &v))
		return -1;
	*out = (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
	return 0;
}

static int locations_line(const uint8_t *t, size_t n, int64_t line, int64_t addr)
{
	int64_t a = 0;
	size_t i = 0;

	while (i < n) {
		uint8_t b = t[i++];
		int code = (b >> 3) & 15, delta = 0, none = 0;
		int64_t end = a + ((b & 7) + 1) * 2;
		uint32_t skip;

		if (!(b & 0x80))
			return -1; /* not at an entry start: malformed */
		switch (code) {
		case 15:
			none = 1;
			break;
		case 14:
			if (read_svarint(t, n, &i, &delta) || read_varint(t, n, &i, &skip) ||
			    read_varint(t, n, &i, &skip) || read_varint(t, n, &i, &skip))
				return -1;
			break;
		case 13:
			if (read_svarint(t, n, &i, &delta))
				return -1;
			break;
		case 10:
		case 11:
		case 12:
			delta = code - 10;
			i += 2;
			break;
		default:
			i += 1;
			break;
		}
		line += delta;
		if (a <= addr && addr < end)
			return none ? -1 : line_or_none(line);
		a = end;
	}
	return -1;
}

int linetable_line(uint32_t model, const uint8_t *table, size_t n, int firstlineno,
		   int64_t addr)
{
	if (addr < 0)
		return firstlineno;
	switch (model) {
	case PYSPY_LINES_LNOTAB_U8:
		return lnotab_line(table, n, firstlineno, addr, 0);
	case PYSPY_LINES_LNOTAB_S8:
		return lnotab_line(table, n, firstlineno, addr, 1);
	case PYSPY_LINES_310:
		return linetable310_line(table, n, firstlineno, addr);
	case PYSPY_LINES_LOCATIONS:
		return locations_line(table, n, firstlineno, addr);
	}
	return -1;
}
