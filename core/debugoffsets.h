/*
 * CPython 3.13+ describes its own layout: _PyRuntime starts with
 * _Py_DebugOffsets (cookie "xdebugpy", version, free_threaded, then one
 * 64-bit word per field, grouped per struct).  Which word is which field
 * changes between minor versions (fields were inserted in the middle), so the
 * field list comes from a layout module (pyspy_layout.debug_fields, generated
 * from that version's header): the core knows no field names.
 *
 * The table serves three purposes:
 *  - it tells the version and free-threading of the target before a layout
 *    is chosen (debug_offsets_read);
 *  - it cross-checks an exact layout module, which it never overrides
 *    (debug_offsets_compare);
 *  - for a newer minor without a module, the nearest older module's list is
 *    read against it, and accepted only if the result checks
 *    (debug_offsets_apply); the caller then validates the interpreter it
 *    finds with those offsets.
 */
#ifndef PYSPY_CORE_DEBUGOFFSETS_H
#define PYSPY_CORE_DEBUGOFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "remote.h"

#define DEBUG_OFFSETS_MAX 256    /* words read after the header */
#define DEBUG_OFFSETS_HEADER 24  /* cookie, version, free_threaded */

struct debug_offsets {
	uint64_t version;        /* PY_VERSION_HEX */
	uint64_t free_threaded;
	uint64_t words[DEBUG_OFFSETS_MAX];
	unsigned nwords;         /* words that could be read */
};

/* Read the table at `runtime`: -ENOENT when there is none (before 3.13),
 * -EINVAL when its header is not plausible. */
int debug_offsets_read(struct remote *r, uint64_t runtime, struct debug_offsets *d);
/* The same over a local copy of `len` bytes (unit tests). */
int debug_offsets_parse(const void *buf, size_t len, struct debug_offsets *d);

/* The value of field `name` ("group.field") by the list `fields`: 0, or
 * -ENOENT (not in the list, or beyond what was read). */
int debug_offsets_get(const struct debug_offsets *d, const char *fields, const char *name,
		      uint64_t *out);

/* How many layout members named in `fields` the table gives another value
 * than `l` has (the first few described in `diff`), or a negative errno
 * when the list is malformed or longer than the table read. */
int debug_offsets_compare(const struct debug_offsets *d, const char *fields,
			  const struct pyspy_layout *l, char *diff, size_t difflen);

/* Set every layout member named in `fields` from the table, if the result
 * checks: every member lies inside its struct's size, every size is
 * plausible.  0, or -EINVAL with `l` unchanged and the reason in err. */
int debug_offsets_apply(const struct debug_offsets *d, const char *fields,
			struct pyspy_layout *l, char *err, size_t errlen);

#endif /* PYSPY_CORE_DEBUGOFFSETS_H */
