/*
 * Python thread names, read from the threading module's registry:
 * sys.modules -> threading -> _active {ident: Thread} -> Thread._name,
 * through the dict and object layouts the layout module describes.
 * Cached by thread id; re-read (at most once a second) when a thread id
 * without a name appears.
 */
#ifndef PYSPY_CORE_THREADNAMES_H
#define PYSPY_CORE_THREADNAMES_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>
#include <pyspy/layout.h>

#include "intern.h"
#include "remote.h"

struct thread_name_entry {
	uint64_t thread_id;
	const char *name;   /* interned */
};

struct thread_names {
	const struct pyspy_layout *layout;
	struct remote *remote;
	struct interner *strings;
	uint64_t interp;
	struct thread_name_entry *entries; /* open addressing by thread id; name NULL: free */
	size_t n, cap;      /* cap: 0 or a power of two, at least twice n */
	uint64_t last_refresh_ns;
	uint64_t wait_ns;    /* before the next re-read for an unknown id */
	uint64_t int_type;   /* &PyInt_Type (2.7), or 0 */
	uint64_t active;     /* threading._active once found, and its type */
	uint64_t active_type;
	int64_t modules_used; /* size of sys.modules when threading was not in it */
};

void thread_names_init(struct thread_names *tn, const struct pyspy_layout *l, struct remote *r,
		       struct interner *strings, uint64_t interp, struct pyspy_binary *bin);
void thread_names_free(struct thread_names *tn);
/* The name of the Python thread with this id, or NULL when unknown. */
const char *thread_names_get(struct thread_names *tn, uint64_t thread_id);

#endif /* PYSPY_CORE_THREADNAMES_H */
