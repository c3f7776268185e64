/*
 * py-spy module ABI: the one descriptor every loadable module exports, and
 * the host API table the core hands to every module.
 *
 * A module is a shared object that exports exactly one symbol,
 * PYSPY_MODULE_SYMBOL ("pyspy_module"), a `const struct pyspy_module`.
 * The core checks, in this order: ABI major version, descriptor size, kind,
 * ops-table size and required ops, then the name against the other modules.
 *
 * ABI rules (version 2):
 *  - every struct that crosses the boundary starts with a size field, or
 *    travels with one (an array element's size is carried beside the
 *    array: `elem_size`, `stack_size`, `frame_size`, ...);
 *  - structs, array elements and ops tables only ever grow by appending
 *    members at the end, after a "Members above are valid ..." comment;
 *  - a reader indexes an array with PYSPY_ELEM (never base[i]) and reads an
 *    element or struct through a zeroed local of its own type, copying
 *    min(size, sizeof) bytes (pyspy_copy_elem, or pyspy_elem_view which
 *    skips the copy when the sizes agree): a member beyond the producer's
 *    size reads as 0 (absent), and nothing past it is read;
 *  - a member is known to be present with PYSPY_HAS;
 *  - a change that is not an append bumps PYSPY_ABI_VERSION.
 *
 * Modules include only headers from include/pyspy/, link against nothing of
 * the core, are built with -fvisibility=hidden and export only pyspy_module.
 * Modules never print diagnostics: they return an error text in the caller's
 * (err, errlen) buffer and the core decides what to print.
 */
#ifndef PYSPY_MODULE_H
#define PYSPY_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PYSPY_ABI_VERSION 2u
#define PYSPY_MODULE_SYMBOL "pyspy_module"

#if defined(__GNUC__)
#define PYSPY_EXPORT __attribute__((visibility("default")))
#define PYSPY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PYSPY_EXPORT
#define PYSPY_PRINTF(a, b)
#endif

/* Address of element i of an array whose elements are elem_size bytes. */
#define PYSPY_ELEM(base, i, elem_size) \
	((const void *)((const char *)(base) + (size_t)(i) * (size_t)(elem_size)))

/* 1 if a struct (or element) of `size` bytes holds all of T's `member`. */
#define PYSPY_HAS(size, T, member) \
	((size_t)(size) >= offsetof(T, member) + sizeof(((T *)0)->member))

/*
 * Copy element i of an array of elem_size-byte elements into *dst, a local
 * of dst_size bytes: min(elem_size, dst_size) bytes are copied and the rest
 * of *dst is zeroed, so that what an older producer did not have reads as
 * 0 and a newer producer's extra members are ignored.  Returns dst.
 */
static inline void *pyspy_copy_elem(void *dst, size_t dst_size, const void *base, size_t i,
				    size_t elem_size)
{
	size_t n = elem_size < dst_size ? elem_size : dst_size;

	memset(dst, 0, dst_size);
	if (n)
		memcpy(dst, PYSPY_ELEM(base, i, elem_size), n);
	return dst;
}

/*
 * Element i read as the reader's own type (local_size bytes): in place when
 * the producer's element size is the reader's, else copied into *local as
 * pyspy_copy_elem does.  The result is valid while the array and *local are.
 */
static inline const void *pyspy_elem_view(void *local, size_t local_size, const void *base,
					  size_t i, size_t elem_size)
{
	if (elem_size == local_size)
		return PYSPY_ELEM(base, i, elem_size);
	return pyspy_copy_elem(local, local_size, base, i, elem_size);
}

enum pyspy_kind {
	PYSPY_KIND_BACKEND = 1, /* platform memory backend: struct pyspy_backend_ops */
	PYSPY_KIND_LAYOUT = 2,  /* CPython version layout: struct pyspy_layout (data) */
	PYSPY_KIND_OUTPUT = 3,  /* output format: struct pyspy_output_ops */
};

enum pyspy_log_level {
	PYSPY_LOG_ERROR = 0,
	PYSPY_LOG_WARN = 1,
	PYSPY_LOG_INFO = 2,
	PYSPY_LOG_DEBUG = 3,
};

/*
 * Services of the core, handed to a module when it is opened.  Each module
 * gets its own copy, bound to its own options section of plugins.ini.
 */
struct pyspy_host {
	uint32_t size;        /* sizeof(struct pyspy_host) of the core */
	uint32_t abi_version; /* PYSPY_ABI_VERSION of the core */

	/* Memory: alloc returns zeroed memory or NULL. */
	void *(*alloc)(size_t n);
	void *(*realloc)(void *p, size_t n);
	void (*free)(void *p);

	/* Debug trace; shown by the core only with -v.  Not for errors. */
	void (*log)(const struct pyspy_host *host, int level, const char *fmt, ...)
		PYSPY_PRINTF(3, 4);

	/* The module's own option `key` from its plugins.ini section, or NULL. */
	const char *(*option)(const struct pyspy_host *host, const char *key);

	const void *ctx; /* core-private */
	/* Members above are valid for ABI version 2.  Append only. */
};

struct pyspy_module {
	uint32_t abi_version; /* PYSPY_ABI_VERSION the module was built against */
	uint32_t struct_size; /* sizeof(struct pyspy_module) */
	uint32_t kind;        /* enum pyspy_kind */
	uint32_t reserved;
	const char *name;     /* unique; [a-z0-9._-]+ */
	const char *summary;  /* one line: what it covers */
	const void *ops;      /* struct pyspy_{backend_ops,layout,output_ops} */
	/* Members above are valid for ABI version 2.  Append only. */
};

#endif /* PYSPY_MODULE_H */
