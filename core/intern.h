/*
 * String interning: one stable copy of each distinct string for the life of
 * a session, so that outputs may compare names by pointer.
 */
#ifndef PYSPY_CORE_INTERN_H
#define PYSPY_CORE_INTERN_H

#include <stddef.h>

struct interner {
	struct intern_entry **slots;
	size_t nslots, count;
	size_t bytes;        /* held, at most INTERN_MAX_BYTES (intern.c) */
	const char *fallback; /* the interned "?" */
};

void intern_init(struct interner *in);
void intern_free(struct interner *in);
/* The interned copy of s[0..n) (NUL-terminated); "?" once the interner
 * holds its limit of bytes. */
const char *intern_n(struct interner *in, const char *s, size_t n);
const char *intern(struct interner *in, const char *s);

#endif /* PYSPY_CORE_INTERN_H */
