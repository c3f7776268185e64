/*
 * Reading CPython objects out of the target: strings (PEP 393 unicode of
 * every kind, 2.7 byte strings) as UTF-8, bytes, and type names.  Every
 * length is bounded.
 */
#ifndef PYSPY_CORE_PYOBJECT_H
#define PYSPY_CORE_PYOBJECT_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "remote.h"
#include "util.h"

/* Longest string read, in code points; longer ones are cut. */
#define PYOBJ_MAX_STRING 4096
/* Longest bytes object read (line tables). */
#define PYOBJ_MAX_BYTES (1u << 20)

/* Append the UTF-8 form of the str (or 2.7 str) object at addr to sb.
 * Returns 0, or a negative errno (nothing appended). */
int pyobj_read_string(struct remote *r, const struct pyspy_layout *l, uint64_t addr,
		      struct strbuf *sb);

/* Read a bytes object (2.7 str) into a new buffer (caller frees). */
int pyobj_read_bytes(struct remote *r, const struct pyspy_layout *l, uint64_t addr,
		     uint8_t **out, size_t *len);

/* Encode one code point as UTF-8 (invalid ones as U+FFFD). */
void utf8_put(struct strbuf *sb, uint32_t cp);

#endif /* PYSPY_CORE_PYOBJECT_H */
