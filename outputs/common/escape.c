/*
 * UTF-8 checks and the one escaper of names read from the target.
 *
 * Every policy starts from the same rule: what the target names is
 * untrusted, and nothing of it that can move a terminal's cursor, change
 * its colours or reorder text reaches a reader raw: invalid UTF-8 becomes
 * U+FFFD (one per maximal invalid subpart), and the "dangerous" code points
 * (C0 and C1 controls, DEL, the bidirectional overrides, embeddings and
 * isolates such as U+202E, U+200E/U+200F/U+061C, and the line and paragraph
 * separators U+2028/U+2029) are written in the policy's escaped form.
 * Each policy then adds what its format needs (see enum outc_esc).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
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

/* A code point that changes how a terminal or a text view shows what
 * follows it. */
static int outc_dangerous(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	       cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* JSON's two-character escapes, or NULL. */
static const char *outc_json_short(uint32_t cp)
{
	switch (cp) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	}
	return NULL;
}

static const char *outc_xml_entity(uint32_t cp)
{
	switch (cp) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	}
	return NULL;
}

/* What code point cp (valid) becomes under policy: a replacement in tmp or
 * a constant, or NULL to copy it as it is. */
static const char *outc_escape_one(uint32_t cp, enum outc_esc policy, char *tmp, size_t len)
{
	const char *rep;

	switch (policy) {
	case OUTC_ESC_TERMINAL:
		if (!outc_dangerous(cp))
			return NULL;
		snprintf(tmp, len, cp < 0x80 ? "\\x%02x" : "\\u%04x", (unsigned)cp);
		return tmp;
	case OUTC_ESC_JSON:
		rep = outc_json_short(cp);
		if (rep || !outc_dangerous(cp))
			return rep;
		snprintf(tmp, len, "\\u%04x", (unsigned)cp);
		return tmp;
	case OUTC_ESC_XML:
		rep = outc_xml_entity(cp);
		if (rep)
			return rep;
		break;
	case OUTC_ESC_COLLAPSED:
		if (cp == ';')
			return ":";     /* ';' separates the frames of a line */
		break;
	case OUTC_ESC_LABEL:
		break;
	}
	/* plain text without syntax: no escapes, a '?' in place */
	if (outc_dangerous(cp))
		return "?";
	if (cp == 0xfffe || cp == 0xffff)       /* not XML characters */
		return OUTC_REPLACEMENT;
	return NULL;
}

int outc_escape(const char *s, size_t n, enum outc_esc policy,
		int (*put)(void *ctx, const void *p, size_t n), void *ctx)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len, bad, start = 0;
	const char *rep;
	char tmp[16];
	int rc = 0;

	/* runs that need nothing are written in one piece */
	while (i < n && !rc) {
		len = outc_utf8_len(p + i, n - i, &bad);
		rep = len ? outc_escape_one(outc_utf8_decode(p + i, len), policy, tmp, sizeof(tmp))
			  : OUTC_REPLACEMENT;
		if (!rep) {
			i += len;
			continue;
		}
		if (i > start)
			rc = put(ctx, p + start, i - start);
		if (!rc)
			rc = put(ctx, rep, strlen(rep));
		i += len ? len : bad;
		start = i;
	}
	if (!rc && i > start)
		rc = put(ctx, p + start, i - start);
	return rc;
}

struct outc_buf_sink {
	const struct pyspy_host *host;
	struct outc_buf *b;
};

static int outc_put_buf(void *ctx, const void *p, size_t n)
{
	struct outc_buf_sink *k = ctx;

	return outc_buf_put(k->host, k->b, p, n);
}

static int outc_put_file(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : -EIO;
}

int outc_escape_buf(const struct pyspy_host *host, struct outc_buf *b, const char *s,
		    enum outc_esc policy)
{
	struct outc_buf_sink k = { host, b };

	return outc_escape(s, strnlen(s, OUTC_MAX_PART), policy, outc_put_buf, &k);
}

int outc_escape_file(FILE *f, const char *s, size_t n, enum outc_esc policy)
{
	return outc_escape(s, n, policy, outc_put_file, f);
}

void outc_put_json(FILE *f, const char *s)
{
	if (!s)
		s = "";
	putc('"', f);
	outc_escape_file(f, s, strnlen(s, OUTC_MAX_PART), OUTC_ESC_JSON);
	putc('"', f);
}
