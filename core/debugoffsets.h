/*
 * CPython 3.13+ describes its own layout: _PyRuntime starts with
 * _Py_DebugOffsets (cookie "xdebugpy", version, free_threaded, then offsets
 * grouped per struct).  We read it from the target, and its values win over
 * the layout module's for every field it has.
 */
#ifndef PYSPY_CORE_DEBUGOFFSETS_H
#define PYSPY_CORE_DEBUGOFFSETS_H

#include <stdint.h>

#include <pyspy/layout.h>

#include "remote.h"

#define DEBUG_OFFSETS_MAX 160

struct debug_offsets {
	uint64_t version;        /* PY_VERSION_HEX */
	uint64_t free_threaded;
	unsigned table_minor;    /* which field list was used (13, 14, 15, ...) */
	const char *const *names;
	uint64_t values[DEBUG_OFFSETS_MAX];
	unsigned n;
};

/* Read the table at `runtime`.  -ENOENT when there is none (before 3.13),
 * -EINVAL when it does not validate. */
int debug_offsets_read(struct remote *r, uint64_t runtime, struct debug_offsets *d);
/* Parse a local copy (unit tests). */
int debug_offsets_parse(const void *buf, size_t len, struct debug_offsets *d);
/* The value of "group.field", or -ENOENT. */
int debug_offsets_get(const struct debug_offsets *d, const char *name, uint64_t *out);
/* Overwrite the layout's fields with the table's.  When `check`, log every
 * field where the module disagrees with the runtime. */
void debug_offsets_apply(const struct debug_offsets *d, struct pyspy_layout *l, int check);

#endif /* PYSPY_CORE_DEBUGOFFSETS_H */
