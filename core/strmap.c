/*
 * String map (see strmap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "util.h"

void strmap_init(struct strmap *m, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->seed = seed;
}

void strmap_free(struct strmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* FNV-1a from a seeded basis, then a full mix so that the low bits (the
 * slot) depend on every byte and on the seed. */
static uint64_t strmap_hash(const struct strmap *m, const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ hash_u64(m->seed);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ull;
	}
	return hash_u64(h ^ m->seed);
}

/* The slot of key, or the empty slot where it would go. */
static struct strmap_slot *strmap_find(struct strmap *m, const char *key, size_t len, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	for (;;) {
		struct strmap_slot *s = &m->slots[i];

		m->probes++;
		if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
			return s;
		i = (i + 1) & mask;
	}
}

static void strmap_grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots;
	size_t oldcap = m->cap, i;

	m->cap = m->cap ? m->cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < oldcap; i++) {
		if (old[i].key)
			*strmap_find(m, old[i].key, old[i].len, old[i].hash) = old[i];
	}
	free(old);
}

int strmap_get(struct strmap *m, const char *key, size_t len, size_t *value)
{
	struct strmap_slot *s;

	if (!m->n)
		return 0;
	s = strmap_find(m, key, len, strmap_hash(m, key, len));
	if (!s->key)
		return 0;
	*value = s->value;
	return 1;
}

void strmap_put(struct strmap *m, const char *key, size_t len, size_t value)
{
	uint64_t h = strmap_hash(m, key, len);
	struct strmap_slot *s;

	if ((m->n + 1) * 2 > m->cap)
		strmap_grow(m);
	s = strmap_find(m, key, len, h);
	if (!s->key) {
		s->key = key;
		s->len = len;
		s->hash = h;
		m->n++;
	}
	s->value = value;
}
