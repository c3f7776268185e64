/*
 * Interpreter discovery: which mapped file holds the Python runtime, which
 * version and build flavour it is, which layout module describes it, and
 * where its interpreter state lives.  All binary-format questions go to the
 * backend (symbols, sections, load bias).
 */
#ifndef PYSPY_CORE_DISCOVER_H
#define PYSPY_CORE_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "plugins.h"
#include "remote.h"

struct python_target {
	struct pyspy_binary *bin;    /* the file holding the runtime */
	char *bin_path;
	uint32_t version;            /* PY_VERSION_HEX */
	char version_str[32];        /* "3.11.2" */
	const char *version_source;  /* "Py_Version", "version string", "file name", ... */
	uint32_t flavour;            /* enum pyspy_flavour bits of the target */
	const struct plugin *layout_plugin;
	struct pyspy_layout layout;  /* the module's data (self-described: see self_described) */
	uint64_t runtime;            /* _PyRuntime, or 0 */
	uint64_t interp;             /* the main interpreter */
	uint64_t tstate_current;     /* address of _PyThreadState_Current (<= 3.6), or 0 */
	char notice[512];            /* one line to show the user, or "" */
	int self_described;          /* offsets from the runtime's own table, not a module */
};

/* Find the interpreter of the attached process.  Returns 0, -ENOENT when
 * the process does not (yet) look like Python, -ENOTSUP for a version with
 * no layout, -ENOEXEC when no file that may hold the runtime could be read
 * (err: why the first could not), another negative errno otherwise; err
 * says what was found and tried. */
int discover_python(struct remote *r, struct plugins *pl, struct python_target *t,
		    char *err, size_t errlen);
void discover_free(struct remote *r, struct python_target *t);

/* Is `interp` a plausible interpreter state?  (mapped, its first thread
 * state points back at it, its modules are a dict when dict_type is known) */
int discover_valid_interp(struct remote *r, const struct pyspy_layout *l, uint64_t interp,
			  uint64_t dict_type);

/* Version helpers (unit-tested). */
void version_format(uint32_t hex, char *buf, size_t len);
/* Find "X.Y.Z[a|b|rc]N (" in a buffer; returns PY_VERSION_HEX or 0. */
uint32_t version_scan(const char *buf, size_t len);
/* major.minor from a file name such as libpython3.12d.so.1.0 or python2.7. */
uint32_t version_from_filename(const char *path);

#endif /* PYSPY_CORE_DISCOVER_H */
