/*
 * Reading a dict of the target: its (key, value) pairs in iteration order,
 * at most 65536 entries.  Used by thread names and --locals reprs.
 */
#ifndef PYSPY_CORE_PYDICT_H
#define PYSPY_CORE_PYDICT_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "remote.h"
#include "util.h"

struct dict_items {
	uint64_t *keys, *values;
	size_t n, cap;
};

/* The live items of the dict at dict (it is reset first; free it with
 * pydict_items_free whatever the result).  0 or a negative errno. */
int pydict_items(struct remote *r, const struct pyspy_layout *l, uint64_t dict, struct dict_items *it);
void pydict_items_free(struct dict_items *it);

#endif /* PYSPY_CORE_PYDICT_H */
