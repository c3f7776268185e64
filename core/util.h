/*
 * Small helpers of the core: allocation that cannot fail silently, a
 * growable string buffer, hashing.
 */
#ifndef PYSPY_CORE_UTIL_H
#define PYSPY_CORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <pyspy/module.h>

/* Allocation: zeroed; on exhaustion print one line and exit(1). */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PYSPY_PRINTF(1, 2);

struct strbuf {
	char *buf;
	size_t len, cap;
};
void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_putc(struct strbuf *sb, char c);
void sb_put(struct strbuf *sb, const char *s, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) PYSPY_PRINTF(2, 3);
/* Takes the buffer (NUL-terminated, never NULL); sb is empty afterwards. */
char *sb_take(struct strbuf *sb);

uint64_t hash_bytes(const void *p, size_t n);
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

#endif /* PYSPY_CORE_UTIL_H */
