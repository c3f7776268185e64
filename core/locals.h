/*
 * dump --locals: the variables of one frame (arguments first, then the
 * other locals, cell and free variables) with their reprs, read from the
 * target while it is paused.
 */
#ifndef PYSPY_CORE_LOCALS_H
#define PYSPY_CORE_LOCALS_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>
#include <pyspy/layout.h>
#include <pyspy/output.h>

#include "remote.h"
#include "repr.h"

struct locals {
	struct repr_ctx rc;
	/* every name and repr handed out, freed by locals_reset */
	char **owned;
	size_t nowned, cap_owned;
};

/* Find the type objects by symbol in bin.  longer: -ll (longer reprs).
 * Returns 0, or -ENOTSUP when this layout lacks the facts locals need. */
int locals_init(struct locals *lc, const struct pyspy_layout *l, struct remote *r,
		struct pyspy_binary *bin, int longer);
void locals_fini(struct locals *lc);

/* Forget the variables handed out (one dump's snapshot). */
void locals_reset(struct locals *lc);

/* The variables of the frame at frame (a PyFrameObject up to 3.10, an
 * _PyInterpreterFrame from 3.11) running the code object at code.  *out is
 * a new array (owned by lc) of *n entries; a frame that cannot be read has
 * none.  Returns 0 or a negative errno. */
int locals_read(struct locals *lc, uint64_t frame, uint64_t code, struct pyspy_local **out,
		uint32_t *n);

#endif /* PYSPY_CORE_LOCALS_H */
