/*
 * UTF-8 checks and the safe form of names read from the target.
 */
#include <stdint.h>
#include <string.h>

#include "common.h"

size_t outc_utf8_len(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i, dummy;

	if (!bad)
		bad = &dummy;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;      /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f;      /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;      /* no overlong forms */
		else if (c == 0xf4)
			hi = 0x8f;      /* nothing above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (i = 1; i < need; i++) {
		unsigned char min = i == 1 ? lo : 0x80;
		unsigned char max = i == 1 ? hi : 0xbf;

		if (i >= n || s[i] < min || s[i] > max) {
			*bad = i;
			return 0;
		}
	}
	return need;
}

uint32_t outc_utf8_decode(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i;

	if (n == 1)
		return s[0];
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	return cp;
}

int outc_put_safe(const struct pyspy_host *host, struct outc_buf *b, const char *s,
		  unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, OUTC_MAX_PART), i = 0, len;
	int rc = 0;

	while (i < n && !rc) {
		len = outc_utf8_len(p + i, n - i, NULL);
		if (len == 0) {
			rc = outc_buf_put(host, b, OUTC_REPLACEMENT, 3);
			i++;
		} else if ((flags & OUTC_SAFE_XML) && len == 3 && p[i] == 0xef &&
			   p[i + 1] == 0xbf && p[i + 2] >= 0xbe) {
			/* U+FFFE, U+FFFF: not XML characters */
			rc = outc_buf_put(host, b, OUTC_REPLACEMENT, 3);
			i += 3;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			rc = outc_buf_put(host, b, "?", 1);
			i++;
		} else if ((flags & OUTC_SAFE_SEMICOLON) && p[i] == ';') {
			rc = outc_buf_put(host, b, ":", 1);
			i++;
		} else {
			rc = outc_buf_put(host, b, p + i, len);
			i += len;
		}
	}
	return rc;
}
