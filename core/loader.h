/*
 * Loading one module file and checking its descriptor before the core uses
 * it.  On any failure the file is closed again and nothing of it stays
 * loaded; err holds one line naming the file, what failed and what to try.
 */
#ifndef PYSPY_CORE_LOADER_H
#define PYSPY_CORE_LOADER_H

#include <stddef.h>

#include <pyspy/module.h>

#include "host.h"

/* Whether the file may be loaded at all: a regular file and, when running
 * as root, owned by root and writable by nobody else.  Takes is_root and the file's
 * info so that the rule is testable as any user. */
int loader_check_file(const char *path, int is_root, const struct host_file_info *fi,
		      char *err, size_t errlen);

/* Whether a descriptor is one the core can use as a module of `kind`: ABI
 * version, sizes, kind, required ops, name.  err does not name the file. */
int loader_check_module(const struct pyspy_module *m, enum pyspy_kind kind,
			char *err, size_t errlen);

/* Check, dlopen, find and check the descriptor.  *handle is for
 * loader_close. */
int loader_open(const char *path, enum pyspy_kind kind, void **handle,
		const struct pyspy_module **out, char *err, size_t errlen);
void loader_close(void *handle);

const char *loader_kind_name(enum pyspy_kind kind);

#endif /* PYSPY_CORE_LOADER_H */
