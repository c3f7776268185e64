/*
 * Short reprs of objects in the target's memory (dump --locals).
 *
 * A value is recognised by comparing its type pointer with the addresses of
 * the interpreter's own type objects, found by symbol: an exact match says
 * what the object is, whatever its name; a subclass (or anything else) is
 * shown as <TypeName at 0x...>, which never claims a value it did not read.
 * Every read is bounded: string code points, container items, depth, and a
 * byte budget per frame.  Memory that cannot be read, or does not make
 * sense, gives "<unreadable>" for that value.
 */
#ifndef PYSPY_CORE_REPR_H
#define PYSPY_CORE_REPR_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "remote.h"
#include "util.h"

/* The type objects recognised, by address (0: not found). */
struct repr_types {
	uint64_t none, true_, false_;   /* the singletons */
	uint64_t int_;                  /* 2.7 int (PyIntObject) */
	uint64_t long_;                 /* int (2.7 long) */
	uint64_t float_;
	uint64_t str;                   /* 3.x str (PEP 393) */
	uint64_t bytes;                 /* bytes (2.7 str) */
	uint64_t tuple, list;
	uint64_t dict, set, frozenset;
	uint64_t cell;
};

/* Bounds of one repr; "longer" (-ll) multiplies them. */
struct repr_limits {
	uint32_t max_chars;   /* code points of a str, bytes of a bytes */
	uint32_t max_items;   /* items shown of a container */
	uint32_t max_depth;   /* containers inside containers */
	uint32_t max_repr;    /* bytes of one repr */
};

struct repr_ctx {
	struct remote *r;
	const struct pyspy_layout *l;
	struct repr_types t;
	struct repr_limits lim;
	size_t budget;        /* bytes the target may still be read for this frame */
};

/* Whether this layout holds what reprs need (the locals group). */
int repr_supported(const struct pyspy_layout *l);

/* Append the repr of the object at obj to sb.  Returns 0; a value that could
 * not be read is written as "<unreadable>". */
void repr_object(struct repr_ctx *c, uint64_t obj, struct strbuf *sb);

/* Python's repr of a finite or infinite double (shortest round trip). */
void repr_float(double v, struct strbuf *sb);

/* The decimal form of a magnitude given as little-endian digits of `shift`
 * bits each, negative if neg.  Returns 0, or -E2BIG when too many digits. */
int repr_bigint(const uint32_t *digits, size_t n, unsigned shift, int neg, struct strbuf *sb);

/* Python 3's repr of a str given as code points (quotes chosen as Python
 * does); cut after max code points with "..." after the closing quote. */
void repr_str_codepoints(const uint32_t *cp, size_t n, int cut, struct strbuf *sb);

/* repr of bytes (prefix "b" for 3.x bytes, "" for 2.7 str). */
void repr_bytes(const uint8_t *b, size_t n, int cut, const char *prefix, struct strbuf *sb);

#endif /* PYSPY_CORE_REPR_H */
