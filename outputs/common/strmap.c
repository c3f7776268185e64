/*
 * Growing arrays and strings, and the hash tables that index them.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common.h"

int outc_grow(const struct pyspy_host *host, void **arr, size_t *cap,
	      size_t need, size_t elem, size_t max)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -ENOMEM;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	if (ncap > SIZE_MAX / elem)
		return -ENOMEM;
	p = host->realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int outc_buf_put(const struct pyspy_host *host, struct outc_buf *b, const void *s, size_t n)
{
	int rc = outc_grow(host, (void **)&b->p, &b->cap, b->len + n + 1, 1, SIZE_MAX / 2);

	if (rc)
		return rc;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

uint64_t outc_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

int64_t outc_table_find(const struct outc_table *t, uint64_t h,
			int (*same)(const void *arg, size_t idx), const void *arg)
{
	size_t i;

	if (!t->cap)
		return -1;
	for (i = h & (t->cap - 1); t->slots[i].idx1; i = (i + 1) & (t->cap - 1)) {
		const struct outc_slot *s = &t->slots[i];

		if (s->hash == h && same(arg, s->idx1 - 1))
			return s->idx1 - 1;
	}
	return -1;
}

/* Keep the load under one half. */
int outc_table_reserve(const struct pyspy_host *host, struct outc_table *t)
{
	struct outc_slot *slots;
	size_t ncap, i, j;

	if ((t->count + 1) * 2 <= t->cap)
		return 0;
	ncap = t->cap ? t->cap * 2 : 256;
	if (ncap > SIZE_MAX / sizeof(*slots) / 2)
		return -ENOMEM;
	slots = host->alloc(ncap * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->slots[i].idx1)
			continue;
		for (j = t->slots[i].hash & (ncap - 1); slots[j].idx1; j = (j + 1) & (ncap - 1))
			;
		slots[j] = t->slots[i];
	}
	host->free(t->slots);
	t->slots = slots;
	t->cap = ncap;
	return 0;
}

void outc_table_insert(struct outc_table *t, uint64_t h, size_t idx)
{
	size_t i;

	for (i = h & (t->cap - 1); t->slots[i].idx1; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i].hash = h;
	t->slots[i].idx1 = (uint32_t)idx + 1;
	t->count++;
}
