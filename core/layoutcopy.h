/*
 * A layout module's data, copied by the module's own size (see layout.h):
 * what an older, shorter module does not have reads as "not present".
 */
#ifndef PYSPY_CORE_LAYOUTCOPY_H
#define PYSPY_CORE_LAYOUTCOPY_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

/* *dst = the first src->size bytes of *src (at most sizeof(*dst)), and
 * dst->size how many that was; every member beyond them "not present":
 * PYSPY_NO_OFFSET for an offset or a size, 0 for a model, flag, mask,
 * shift or string. */
void layout_copy(struct pyspy_layout *dst, const struct pyspy_layout *src);

/* The offset or size member named `name` (its first `len` bytes, dotted as
 * in layout.h: "tstate.next", "ob_refcnt"), or NULL when there is none. */
int32_t *layout_member(struct pyspy_layout *l, const char *name, size_t len);

#endif /* PYSPY_CORE_LAYOUTCOPY_H */
