/*
 * Code objects, decoded once: name, file name, first line and line table,
 * cached by address.  Each sample re-reads a small fingerprint of every code
 * object it meets (one batched read for the whole sample), so an address
 * reused by another code object is noticed and decoded afresh.
 */
#ifndef PYSPY_CORE_CODECACHE_H
#define PYSPY_CORE_CODECACHE_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/layout.h>

#include "intern.h"
#include "remote.h"

#define CODE_FP_MAX 192

struct code_entry {
	uint64_t addr;          /* 0: empty slot */
	uint8_t fp[CODE_FP_MAX];
	int ok;                 /* decoded successfully */
	const char *name;       /* interned */
	const char *filename;
	const char *short_filename;
	int firstlineno;
	uint8_t *table;
	size_t ntable;
	int64_t last_addr;      /* memo of the last lookup */
	int last_line;
	uint32_t seen;          /* sample generation of the last validation */
};

struct codecache {
	const struct pyspy_layout *layout;
	struct remote *remote;
	struct interner *strings;
	int64_t pid;            /* for shortening file names in the target's namespace */
	uint64_t code_type;     /* &PyCode_Type, or 0 if unknown */
	int32_t fp_start, fp_len;
	struct code_entry *slots;
	size_t nslots, count;
	size_t table_bytes;     /* line-table bytes held by the entries */
	uint32_t generation;
	/* short names by interned file name */
	struct short_entry { const char *file, *short_name; } *shorts;
	size_t nshorts, cap_shorts;
	uint8_t *fpbuf;         /* fingerprints read in one sample, reused */
	const uint64_t *pre;    /* see codecache_preread */
	const uint8_t *pre_bufs;
	size_t npre;
};

void codecache_init(struct codecache *c, const struct pyspy_layout *l, struct remote *r,
		    struct interner *strings, int64_t pid, uint64_t code_type);
void codecache_free(struct codecache *c);

/* Start a new sample: entries met from now on are validated once. */
void codecache_begin(struct codecache *c);

/* Validate and, where needed, decode the code objects at addrs[0..n) (a
 * sample's frames; duplicates allowed) with as few reads as possible.
 * Afterwards codecache_get returns them. */
void codecache_prepare(struct codecache *c, const uint64_t *addrs, size_t n);

/* Fingerprints already read (speculatively, with other reads of the
 * sample): code object pre[i]'s region is at bufs + i * fp_len.  Used by the
 * next codecache_prepare, then forgotten. */
void codecache_preread(struct codecache *c, const uint64_t *pre, const uint8_t *bufs, size_t n);

/* Where the fingerprint region of a code object starts, and its length. */
static inline uint64_t codecache_fp_addr(const struct codecache *c, uint64_t code)
{
	return code + (uint64_t)c->fp_start;
}

/* The entry for addr after codecache_prepare, or NULL if it is not a
 * readable code object. */
struct code_entry *codecache_get(struct codecache *c, uint64_t addr);

/* Line of byte offset `addr` in the code. */
int codecache_line(struct codecache *c, struct code_entry *e, int64_t addr);

/* py-spy's short file name: leading directories dropped down to the
 * highest package (folder with __init__.py) holding the file. */
const char *codecache_short_filename(struct codecache *c, const char *filename);

#endif /* PYSPY_CORE_CODECACHE_H */
