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

/* The trust rule for module files: enforced as root, where only root may
 * own (or be able to change) a module and every folder above it. */
void loader_trust(struct host_trust *t);

/*
 * Open a module file for loading and check it: the path walked without the
 * kernel following links, every folder on it and the open file itself
 * checked by `trust` (host_open_checked, loader_check_file), and its image
 * (a truncated file would fault while being mapped).  *fd is the checked
 * file, for loader_load_fd; the caller closes it (host_fd_close).
 */
int loader_open_file(const char *path, const struct host_trust *trust, int *fd,
		     char *err, size_t errlen);

/* Load the very file checked (fd, not path: the path may name another file
 * by now), find and check its descriptor.  path is for messages.  Takes fd
 * in every case: it stays open with the module and loader_close closes it. */
int loader_load_fd(int fd, const char *path, enum pyspy_kind kind, void **handle,
		   const struct pyspy_module **out, char *err, size_t errlen);

/* Both of the above with loader_trust.  *handle is for loader_close. */
int loader_open(const char *path, enum pyspy_kind kind, void **handle,
		const struct pyspy_module **out, char *err, size_t errlen);
void loader_close(void *handle);

const char *loader_kind_name(enum pyspy_kind kind);

#endif /* PYSPY_CORE_LOADER_H */
