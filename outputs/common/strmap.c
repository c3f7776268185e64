/*
 * Growing arrays and strings, and the hash tables that index them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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

/* Room for n more bytes and the NUL: grown, or for a fixed buffer (host
 * NULL) -ENOSPC when they do not fit. */
static int outc_buf_room(const struct pyspy_host *host, struct outc_buf *b, size_t n)
{
	if (n > SIZE_MAX / 4)
		return -ENOMEM;
	if (!host)
		return b->len + n < b->cap ? 0 : -ENOSPC;
	return outc_grow(host, (void **)&b->p, &b->cap, b->len + n + 1, 1, SIZE_MAX / 2);
}

int outc_buf_put(const struct pyspy_host *host, struct outc_buf *b, const void *s, size_t n)
{
	const unsigned char *u = s;
	int rc = outc_buf_room(host, b, n);

	if (rc == -ENOSPC && b->cap > b->len) {
		/* a fixed buffer: what fits, never half a character */
		n = b->cap - 1 - b->len;
		while (n > 0 && (u[n] & 0xc0) == 0x80)
			n--;
	} else if (rc) {
		return rc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return rc;
}

int outc_buf_puts(const struct pyspy_host *host, struct outc_buf *b, const char *s)
{
	return outc_buf_put(host, b, s, strlen(s));
}

int outc_buf_printf(const struct pyspy_host *host, struct outc_buf *b, const char *fmt, ...)
{
	va_list ap, aq;
	int n, rc;

	va_start(ap, fmt);
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	rc = n < 0 ? -EINVAL : outc_buf_room(host, b, (size_t)n);
	if (!rc) {
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, aq);
		b->len += (size_t)n;
	} else if (rc == -ENOSPC && b->cap > b->len) {
		/* a fixed buffer: what fits (the formats are ASCII) */
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, aq);
		b->len = b->cap - 1;
	}
	va_end(aq);
	return rc;
}

void outc_buf_reset(struct outc_buf *b)
{
	b->len = 0;
	if (b->cap)
		b->p[0] = '\0';
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

void outc_table_clear(struct outc_table *t)
{
	if (t->slots)
		memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->count = 0;
}

void outc_table_free(const struct pyspy_host *host, struct outc_table *t)
{
	host->free(t->slots);
	memset(t, 0, sizeof(*t));
}
