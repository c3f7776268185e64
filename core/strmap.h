/*
 * A map from byte strings to indexes (open addressing, linear probing), for
 * lookups whose count grows with untrusted input (plugins.ini): each costs
 * a constant number of probes on average, so reading n entries costs O(n).
 * The hash is seeded by the caller (a random seed makes keys chosen to
 * collide unlikely to); `probes` counts the slots looked at, so that tests
 * can check the cost without timing it.
 */
#ifndef PYSPY_CORE_STRMAP_H
#define PYSPY_CORE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	const char *key;   /* NULL: empty; not copied, must outlive the map */
	size_t len;
	uint64_t hash;
	size_t value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;        /* a power of two, at least twice n */
	size_t n;
	uint64_t seed;
	unsigned long long probes;
};

void strmap_init(struct strmap *m, uint64_t seed);
void strmap_free(struct strmap *m);
/* 1 and *value if key[0..len) is in the map, else 0. */
int strmap_get(struct strmap *m, const char *key, size_t len, size_t *value);
/* Add key[0..len) -> value, or replace the value of that key. */
void strmap_put(struct strmap *m, const char *key, size_t len, size_t value);

#endif /* PYSPY_CORE_STRMAP_H */
