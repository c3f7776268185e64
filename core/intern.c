/*
 * String interning (see intern.h): a chained hash table.
 */
#include <stdlib.h>
#include <string.h>

#include "intern.h"
#include "util.h"

#define INTERN_MAX_BYTES ((size_t)512 << 20)

struct intern_entry {
	struct intern_entry *next;
	uint64_t hash;
	size_t len;
	char str[];
};

void intern_init(struct interner *in)
{
	in->nslots = 256;
	in->count = 0;
	in->bytes = 0;
	in->slots = xcalloc(in->nslots, sizeof(*in->slots));
	in->fallback = intern_n(in, "?", 1);
}

void intern_free(struct interner *in)
{
	size_t i;

	for (i = 0; i < in->nslots; i++) {
		struct intern_entry *e = in->slots ? in->slots[i] : NULL;

		while (e) {
			struct intern_entry *next = e->next;

			free(e);
			e = next;
		}
	}
	free(in->slots);
	in->slots = NULL;
	in->nslots = in->count = in->bytes = 0;
}

static void grow(struct interner *in)
{
	size_t nslots = in->nslots * 2, i;
	struct intern_entry **slots = xcalloc(nslots, sizeof(*slots));

	for (i = 0; i < in->nslots; i++) {
		struct intern_entry *e = in->slots[i];

		while (e) {
			struct intern_entry *next = e->next;
			size_t j = e->hash & (nslots - 1);

			e->next = slots[j];
			slots[j] = e;
			e = next;
		}
	}
	free(in->slots);
	in->slots = slots;
	in->nslots = nslots;
}

const char *intern_n(struct interner *in, const char *s, size_t n)
{
	uint64_t h = hash_bytes(s, n);
	struct intern_entry *e;
	size_t j;

	if (!in->slots)
		intern_init(in);
	j = h & (in->nslots - 1);
	for (e = in->slots[j]; e; e = e->next) {
		if (e->hash == h && e->len == n && memcmp(e->str, s, n) == 0)
			return e->str;
	}
	/* Bounded memory: past the budget new strings all read "?". */
	if (in->bytes + n > INTERN_MAX_BYTES)
		return in->fallback;
	in->bytes += n + sizeof(*e);
	if (in->count + 1 > in->nslots)
		grow(in);
	e = xcalloc(1, sizeof(*e) + n + 1);
	e->hash = h;
	e->len = n;
	memcpy(e->str, s, n);
	j = h & (in->nslots - 1);
	e->next = in->slots[j];
	in->slots[j] = e;
	in->count++;
	return e->str;
}

const char *intern(struct interner *in, const char *s)
{
	return intern_n(in, s, strlen(s));
}
