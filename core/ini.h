/*
 * The INI dialect of plugins.ini, read in one pass over a buffer (no file
 * access here: config.c opens and reads the file, the fuzz target feeds
 * bytes).  Linear in the size of the text, and bounded: at most
 * INI_MAX_BYTES of text, INI_MAX_LINE bytes a line, INI_MAX_ENTRIES
 * sections and keys.
 *
 *   ; comment           # comment
 *   [Section]           names and keys are lowercased, values kept as written
 *   key = value         a value ends at ';' or '#' (a comment), blanks trimmed
 *   key = "a ; b"       quotes ('...' too) keep everything up to the closing one
 *   key = long \
 *         value         a line ending in '\' goes on on the next one
 *
 * A section may be continued further down; a key given twice in one
 * section, a key before any section and a line that is none of the above
 * are errors naming file:line.
 */
#ifndef PYSPY_CORE_INI_H
#define PYSPY_CORE_INI_H

#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

#define INI_MAX_BYTES (4u << 20)
#define INI_MAX_LINE 4096
#define INI_MAX_ENTRIES (1u << 17)

struct ini_section {
	char *name;
	int line;          /* where it first appears */
};

struct ini_key {
	size_t section;    /* index into sections */
	char *key;
	char *value;
	int line;
	char *id;          /* "section\nkey": the map's key */
};

struct ini {
	struct ini_section *sections;   /* in the order they first appear */
	size_t nsections;
	struct ini_key *keys;           /* in file order */
	size_t nkeys;
	struct strmap section_map;      /* name -> index into sections */
	struct strmap key_map;          /* id -> index into keys */
};

/* Parse text[0..len) (path is for messages).  seed seeds the hash maps.
 * 0, or -EINVAL with one line in err ("path:line: what"); *ini is then
 * empty (nothing to free). */
int ini_parse(struct ini *ini, const char *text, size_t len, const char *path, uint64_t seed,
	      char *err, size_t errlen);
void ini_free(struct ini *ini);

/* Lookups: names are matched without regard to case.  NULL if absent. */
const struct ini_section *ini_section(struct ini *ini, const char *name);
const struct ini_key *ini_key(struct ini *ini, const char *section, const char *key);

/* Hash slots looked at so far: the work done, for tests. */
unsigned long long ini_probes(const struct ini *ini);

#endif /* PYSPY_CORE_INI_H */
