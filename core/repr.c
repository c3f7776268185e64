/*
 * Short reprs of objects in the target's memory (see repr.h).
 *
 * Every value is read fresh from the target (the caller keeps it paused),
 * each read is counted against the frame's byte budget, and anything that
 * does not make sense (a negative size, a length past the bounds, a read
 * that fails) turns that value into "<unreadable>" rather than a guess.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pydict.h"
#include "pyobject.h"
#include "repr.h"

#define UNREADABLE "<unreadable>"
#define MAX_INT_DIGITS 256    /* digits of an int read (about 7700 bits) */

int repr_supported(const struct pyspy_layout *l)
{
	return l->locals.present && l->object.ob_type >= 0 && l->locals.float_fval >= 0 &&
	       l->locals.list_ob_item >= 0 && l->tuple.ob_item >= 0 && l->object.ob_size >= 0;
}

/* Read len bytes at addr, counted against the budget. */
static int rd(struct repr_ctx *c, uint64_t addr, void *buf, size_t len)
{
	if (len > c->budget)
		return -E2BIG;
	c->budget -= len;
	return remote_read(c->r, addr, buf, len);
}

static int rd_ptr(struct repr_ctx *c, uint64_t addr, uint64_t *out)
{
	return rd(c, addr, out, sizeof(*out));
}

static int rd_ssize(struct repr_ctx *c, uint64_t addr, int64_t *out)
{
	return rd(c, addr, out, sizeof(*out));
}

/* ---- floats --------------------------------------------------------------- */

void repr_float(double v, struct strbuf *sb)
{
	char buf[64], digits[32];
	int p, exp = 0, nd = 0, i;
	const char *s;

	if (isnan(v)) {
		sb_puts(sb, "nan");
		return;
	}
	if (isinf(v)) {
		sb_puts(sb, v < 0 ? "-inf" : "inf");
		return;
	}
	/* The shortest %.*e that reads back as the same double. */
	for (p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	s = buf;
	if (*s == '-') {
		sb_putc(sb, '-');
		s++;
	}
	for (; *s && *s != 'e'; s++) {
		if (*s >= '0' && *s <= '9' && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *s;
	}
	if (*s == 'e')
		exp = atoi(s + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	/* Python's repr: positional from 1e-4 up to 1e16, scientific outside. */
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			sb_puts(sb, "0.");
			for (i = 0; i < -exp - 1; i++)
				sb_putc(sb, '0');
			sb_puts(sb, digits);
		} else {
			for (i = 0; i <= exp; i++)
				sb_putc(sb, i < nd ? digits[i] : '0');
			sb_putc(sb, '.');
			if (nd > exp + 1)
				sb_puts(sb, digits + exp + 1);
			else
				sb_putc(sb, '0');
		}
		return;
	}
	sb_putc(sb, digits[0]);
	if (nd > 1) {
		sb_putc(sb, '.');
		sb_puts(sb, digits + 1);
	}
	sb_printf(sb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/* ---- ints ----------------------------------------------------------------- */

int repr_bigint(const uint32_t *digits, size_t n, unsigned shift, int neg, struct strbuf *sb)
{
	uint32_t work[MAX_INT_DIGITS], chunks[MAX_INT_DIGITS * 4];
	size_t nw = n, nc = 0, i;

	if (n > MAX_INT_DIGITS || shift == 0 || shift > 30)
		return -E2BIG;
	memcpy(work, digits, n * sizeof(*work));
	while (nw > 0 && work[nw - 1] == 0)
		nw--;
	/* Divide by 10^9 until nothing is left: the remainders are the decimal
	 * form, nine digits at a time, least significant first. */
	while (nw > 0) {
		uint64_t rem = 0;

		for (i = nw; i-- > 0;) {
			uint64_t cur = (rem << shift) | work[i];

			work[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		chunks[nc++] = (uint32_t)rem;
		while (nw > 0 && work[nw - 1] == 0)
			nw--;
	}
	if (nc == 0) {
		sb_putc(sb, '0');
		return 0;
	}
	if (neg)
		sb_putc(sb, '-');
	sb_printf(sb, "%u", chunks[nc - 1]);
	for (i = nc - 1; i-- > 0;)
		sb_printf(sb, "%09u", chunks[i]);
	return 0;
}

static int repr_long(struct repr_ctx *c, uint64_t obj, struct strbuf *sb)
{
	const struct pyspy_layout *l = c->l;
	uint32_t digits[MAX_INT_DIGITS];
	uint8_t raw[MAX_INT_DIGITS * 4];
	int64_t size;
	size_t n, dsz = l->locals.long_digit_size > 0 ? (size_t)l->locals.long_digit_size : 0, i;
	int neg;

	if (l->names.long_size < 0 || l->names.long_digits < 0 || (dsz != 2 && dsz != 4))
		return -EINVAL;
	if (rd_ssize(c, obj + (uint64_t)l->names.long_size, &size))
		return -EFAULT;
	if (l->names.long_tagged) {
		/* lv_tag: ndigits << 3 | sign (0 positive, 1 zero, 2 negative) */
		uint64_t tag = (uint64_t)size;

		if ((tag & 3) == 3)
			return -EINVAL;
		n = (size_t)(tag >> 3);
		neg = (tag & 3) == 2;
		if (n > MAX_INT_DIGITS)
			return -E2BIG;
	} else {
		neg = size < 0;
		if (size < -MAX_INT_DIGITS || size > MAX_INT_DIGITS)
			return -E2BIG;
		n = (size_t)(size < 0 ? -size : size);
	}
	if (n && rd(c, obj + (uint64_t)l->names.long_digits, raw, n * dsz))
		return -EFAULT;
	for (i = 0; i < n; i++) {
		if (dsz == 4) {
			memcpy(&digits[i], raw + 4 * i, 4);
		} else {
			uint16_t d;

			memcpy(&d, raw + 2 * i, 2);
			digits[i] = d;
		}
		if (digits[i] >> l->names.long_shift)
			return -EINVAL; /* not a digit: the object changed */
	}
	return repr_bigint(digits, n, l->names.long_shift, neg, sb);
}

/* ---- strings -------------------------------------------------------------- */

static void put_escaped_cp(struct strbuf *sb, uint32_t cp, uint32_t quote)
{
	if (cp == quote || cp == '\\') {
		sb_putc(sb, '\\');
		sb_putc(sb, (char)cp);
	} else if (cp == '\n') {
		sb_puts(sb, "\\n");
	} else if (cp == '\r') {
		sb_puts(sb, "\\r");
	} else if (cp == '\t') {
		sb_puts(sb, "\\t");
	} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0xa0) || cp == 0xad) {
		sb_printf(sb, "\\x%02x", cp);
	} else if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0x2028 || cp == 0x2029 ||
		   (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
		   (cp >= 0x2060 && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb)) {
		/* Not printable for Python: surrogates, separators, format characters. */
		sb_printf(sb, "\\u%04x", cp);
	} else if (cp >= 0xe0000 && cp <= 0xe007f) {
		sb_printf(sb, "\\U%08x", cp);
	} else if (cp < 0x80) {
		sb_putc(sb, (char)cp);
	} else {
		utf8_put(sb, cp);
	}
}

/* Python's quote choice: ' unless the text holds ' and no ". */
static uint32_t pick_quote(const uint32_t *cp, size_t n)
{
	int single = 0, dbl = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		single |= cp[i] == '\'';
		dbl |= cp[i] == '"';
	}
	return single && !dbl ? '"' : '\'';
}

void repr_str_codepoints(const uint32_t *cp, size_t n, int cut, struct strbuf *sb)
{
	uint32_t q = pick_quote(cp, n);
	size_t i;

	sb_putc(sb, (char)q);
	for (i = 0; i < n; i++)
		put_escaped_cp(sb, cp[i], q);
	sb_putc(sb, (char)q);
	if (cut)
		sb_puts(sb, "...");
}

void repr_bytes(const uint8_t *b, size_t n, int cut, const char *prefix, struct strbuf *sb)
{
	int single = 0, dbl = 0;
	char q;
	size_t i;

	for (i = 0; i < n; i++) {
		single |= b[i] == '\'';
		dbl |= b[i] == '"';
	}
	q = single && !dbl ? '"' : '\'';
	sb_puts(sb, prefix);
	sb_putc(sb, q);
	for (i = 0; i < n; i++) {
		uint8_t ch = b[i];

		if (ch == (uint8_t)q || ch == '\\') {
			sb_putc(sb, '\\');
			sb_putc(sb, (char)ch);
		} else if (ch == '\n') {
			sb_puts(sb, "\\n");
		} else if (ch == '\r') {
			sb_puts(sb, "\\r");
		} else if (ch == '\t') {
			sb_puts(sb, "\\t");
		} else if (ch < 0x20 || ch >= 0x7f) {
			sb_printf(sb, "\\x%02x", ch);
		} else {
			sb_putc(sb, (char)ch);
		}
	}
	sb_putc(sb, q);
	if (cut)
		sb_puts(sb, "...");
}

/* A PEP 393 str: its first max_chars code points. */
static int repr_unicode(struct repr_ctx *c, uint64_t obj, struct strbuf *sb)
{
	const struct pyspy_layout *l = c->l;
	uint8_t head[128], *data;
	uint32_t *cp, state, kind;
	size_t headlen = (size_t)l->unicode.compact_data, n, i;
	int64_t length;
	uint64_t at;
	int cut;

	if (l->unicode.legacy_data + 8 > (int32_t)headlen)
		headlen = (size_t)l->unicode.legacy_data + 8;
	if (l->unicode.state < 0 || l->unicode.length < 0 || headlen > sizeof(head))
		return -EINVAL;
	if (rd(c, obj, head, headlen))
		return -EFAULT;
	state = field_u32(head, headlen, l->unicode.state);
	length = field_i64(head, headlen, l->unicode.length);
	kind = (state >> l->unicode.kind_shift) & 7;
	if (length < 0 || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if ((state >> l->unicode.compact_shift) & 1)
		at = obj + (uint64_t)((state >> l->unicode.ascii_shift) & 1 ? l->unicode.ascii_data :
									     l->unicode.compact_data);
	else
		at = field_ptr(head, headlen, l->unicode.legacy_data);
	cut = length > (int64_t)c->lim.max_chars;
	n = cut ? c->lim.max_chars : (size_t)length;
	data = xcalloc(n ? n : 1, kind);
	cp = xcalloc(n ? n : 1, sizeof(*cp));
	if (n && rd(c, at, data, n * kind)) {
		free(data);
		free(cp);
		return -EFAULT;
	}
	for (i = 0; i < n; i++) {
		if (kind == 1) {
			cp[i] = data[i];
		} else if (kind == 2) {
			uint16_t u;

			memcpy(&u, data + 2 * i, 2);
			cp[i] = u;
		} else {
			memcpy(&cp[i], data + 4 * i, 4);
		}
		if (cp[i] > 0x10ffff)
			break;
	}
	if (i == n)
		repr_str_codepoints(cp, n, cut, sb);
	free(data);
	free(cp);
	return i == n ? 0 : -EINVAL;
}

static int repr_bytes_obj(struct repr_ctx *c, uint64_t obj, struct strbuf *sb)
{
	const struct pyspy_layout *l = c->l;
	uint8_t *buf;
	int64_t size;
	size_t n;
	int cut;

	if (l->bytes.ob_size < 0 || l->bytes.ob_sval < 0)
		return -EINVAL;
	if (rd_ssize(c, obj + (uint64_t)l->bytes.ob_size, &size) || size < 0)
		return -EFAULT;
	cut = size > (int64_t)c->lim.max_chars;
	n = cut ? c->lim.max_chars : (size_t)size;
	buf = xcalloc(n ? n : 1, 1);
	if (n && rd(c, obj + (uint64_t)l->bytes.ob_sval, buf, n)) {
		free(buf);
		return -EFAULT;
	}
	/* 2.7's str is bytes without the b prefix. */
	repr_bytes(buf, n, cut, l->string_model == PYSPY_STRINGS_BYTES ? "" : "b", sb);
	free(buf);
	return 0;
}

/* ---- containers ----------------------------------------------------------- */

static void repr_at(struct repr_ctx *c, uint64_t obj, struct strbuf *sb, uint32_t depth);

/* A tuple or list: size at ob_size, items at `items` (inline for a tuple,
 * a pointer for a list). */
static int repr_sequence(struct repr_ctx *c, uint64_t obj, int is_list, struct strbuf *sb,
			 uint32_t depth)
{
	const struct pyspy_layout *l = c->l;
	uint64_t items[64], base;
	int64_t size;
	size_t n, i, max = c->lim.max_items < 64 ? c->lim.max_items : 64;

	if (rd_ssize(c, obj + (uint64_t)l->object.ob_size, &size) || size < 0 || size > (1LL << 40))
		return -EFAULT;
	if (is_list) {
		if (rd_ptr(c, obj + (uint64_t)l->locals.list_ob_item, &base))
			return -EFAULT;
		if (!base && size)
			return -EINVAL;
	} else {
		base = obj + (uint64_t)l->tuple.ob_item;
	}
	n = (size_t)size < max ? (size_t)size : max;
	if (n && rd(c, base, items, n * sizeof(items[0])))
		return -EFAULT;
	sb_putc(sb, is_list ? '[' : '(');
	if (depth >= c->lim.max_depth && size > 0) {
		sb_puts(sb, "...");
	} else {
		for (i = 0; i < n; i++) {
			if (i)
				sb_puts(sb, ", ");
			repr_at(c, items[i], sb, depth + 1);
		}
		if ((size_t)size > n)
			sb_puts(sb, ", ...");
	}
	if (!is_list && size == 1)
		sb_putc(sb, ',');
	sb_putc(sb, is_list ? ']' : ')');
	return 0;
}

/* {key: value, ...} in iteration order. */
static int repr_dict(struct repr_ctx *c, uint64_t obj, struct strbuf *sb, uint32_t depth)
{
	struct dict_items it;
	size_t i, n, cost;
	int rc;

	if (c->budget < 256)
		return -E2BIG;
	rc = pydict_items(c->r, c->l, obj, &it);
	/* The entries read count against the budget like every other read. */
	cost = 256 + it.n * 24;
	c->budget -= cost < c->budget ? cost : c->budget;
	if (rc) {
		pydict_items_free(&it);
		return rc;
	}
	n = it.n < c->lim.max_items ? it.n : c->lim.max_items;
	sb_putc(sb, '{');
	if (depth >= c->lim.max_depth && it.n > 0) {
		sb_puts(sb, "...");
	} else {
		for (i = 0; i < n; i++) {
			if (i)
				sb_puts(sb, ", ");
			repr_at(c, it.keys[i], sb, depth + 1);
			sb_puts(sb, ": ");
			repr_at(c, it.values[i], sb, depth + 1);
		}
		if (it.n > n)
			sb_puts(sb, ", ...");
	}
	sb_putc(sb, '}');
	pydict_items_free(&it);
	return 0;
}

/* A set or frozenset: its open table of (mask + 1) entries, in table order
 * as Python iterates it.  Empty slots have no key; deleted ones hash -1 (no
 * live key does: Python turns a hash of -1 into -2). */
static int repr_set(struct repr_ctx *c, uint64_t obj, int frozen, struct strbuf *sb, uint32_t depth)
{
	const struct pyspy_layout *l = c->l;
	int64_t used, mask, hash;
	uint64_t table, key;
	size_t esz = l->locals.set_entry_size > 0 ? (size_t)l->locals.set_entry_size : 0, i, shown = 0;
	int32_t hoff = l->locals.set_entry_key == 0 ? 8 : 0; /* {key, hash} or 2.7's {hash, key} */
	uint8_t entry[32];
	/* 2.7 writes set([...]) and set([]); 3.x {...} and set(). */
	int old = l->string_model == PYSPY_STRINGS_BYTES;

	if (l->locals.set_used < 0 || l->locals.set_mask < 0 || l->locals.set_table < 0 ||
	    l->locals.set_entry_key < 0 || esz < 16 || esz > sizeof(entry))
		return -EINVAL;
	if (rd_ssize(c, obj + (uint64_t)l->locals.set_used, &used) ||
	    rd_ssize(c, obj + (uint64_t)l->locals.set_mask, &mask) ||
	    rd_ptr(c, obj + (uint64_t)l->locals.set_table, &table))
		return -EFAULT;
	if (used < 0 || mask < 0 || mask >= (1LL << 26) || used > mask + 1 || !table)
		return -EINVAL;
	if (used == 0) {
		sb_puts(sb, frozen ? "frozenset(" : "set(");
		sb_puts(sb, old ? "[])" : ")");
		return 0;
	}
	sb_puts(sb, frozen ? "frozenset(" : old ? "set(" : "");
	sb_puts(sb, old ? "[" : "{");
	if (depth >= c->lim.max_depth) {
		sb_puts(sb, "...");
		shown = (size_t)used;
	}
	for (i = 0; shown < c->lim.max_items && shown < (size_t)used && i <= (size_t)mask; i++) {
		if (rd(c, table + i * esz, entry, esz))
			return -EFAULT;
		memcpy(&key, entry + l->locals.set_entry_key, 8);
		memcpy(&hash, entry + hoff, 8);
		if (!key || hash == -1)
			continue;
		if (shown++)
			sb_puts(sb, ", ");
		repr_at(c, key, sb, depth + 1);
	}
	if ((size_t)used > shown)
		sb_puts(sb, ", ...");
	sb_puts(sb, old ? "]" : "}");
	if (frozen || old)
		sb_putc(sb, ')');
	return 0;
}

/* <TypeName at 0x...> from tp_name (a C string in the target). */
static int repr_other(struct repr_ctx *c, uint64_t obj, uint64_t type, struct strbuf *sb)
{
	char name[128];
	uint64_t name_at;
	size_t i;

	if (c->l->object.tp_name < 0 || rd_ptr(c, type + (uint64_t)c->l->object.tp_name, &name_at))
		return -EFAULT;
	memset(name, 0, sizeof(name));
	/* A type name may end before the buffer does, next to unmapped memory:
	 * read a shorter piece when the long one fails. */
	if (rd(c, name_at, name, sizeof(name) - 1) && rd(c, name_at, name, 32))
		return -EFAULT;
	for (i = 0; name[i]; i++) {
		if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f)
			return -EINVAL;
	}
	if (i == 0)
		return -EINVAL;
	sb_printf(sb, "<%s at 0x%llx>", name, (unsigned long long)obj);
	return 0;
}

static int repr_dispatch(struct repr_ctx *c, uint64_t obj, struct strbuf *sb, uint32_t depth)
{
	const struct repr_types *t = &c->t;
	const struct pyspy_layout *l = c->l;
	uint64_t type;

	if (obj == 0)
		return -EINVAL;
	if (t->none && obj == t->none) {
		sb_puts(sb, "None");
		return 0;
	}
	if (t->true_ && obj == t->true_) {
		sb_puts(sb, "True");
		return 0;
	}
	if (t->false_ && obj == t->false_) {
		sb_puts(sb, "False");
		return 0;
	}
	if (rd_ptr(c, obj + (uint64_t)l->object.ob_type, &type) || type == 0)
		return -EFAULT;
	if (type == t->long_) {
		int rc = repr_long(c, obj, sb);

		if (rc == 0 && t->int_)
			sb_putc(sb, 'L'); /* 2.7's long */
		return rc;
	}
	if (t->int_ && type == t->int_) {
		int64_t v;

		if (l->names.int_ival < 0 || rd(c, obj + (uint64_t)l->names.int_ival, &v, sizeof(v)))
			return -EFAULT;
		sb_printf(sb, "%lld", (long long)v);
		return 0;
	}
	if (type == t->float_) {
		double v;

		if (rd(c, obj + (uint64_t)l->locals.float_fval, &v, sizeof(v)))
			return -EFAULT;
		repr_float(v, sb);
		return 0;
	}
	if (t->str && type == t->str)
		return repr_unicode(c, obj, sb);
	if (type == t->bytes)
		return repr_bytes_obj(c, obj, sb);
	if (type == t->tuple)
		return repr_sequence(c, obj, 0, sb, depth);
	if (type == t->list)
		return repr_sequence(c, obj, 1, sb, depth);
	if (t->dict && type == t->dict && l->dict_model)
		return repr_dict(c, obj, sb, depth);
	if (t->set && type == t->set)
		return repr_set(c, obj, 0, sb, depth);
	if (t->frozenset && type == t->frozenset)
		return repr_set(c, obj, 1, sb, depth);
	return repr_other(c, obj, type, sb);
}

/* The repr of one value into sb; what could not be read becomes
 * "<unreadable>" (a container keeps the items read before it). */
static void repr_at(struct repr_ctx *c, uint64_t obj, struct strbuf *sb, uint32_t depth)
{
	size_t mark = sb->len;

	if (sb->len > c->lim.max_repr) {
		sb_puts(sb, "...");
		return;
	}
	if (repr_dispatch(c, obj, sb, depth) != 0) {
		sb->len = mark;
		if (sb->buf)
			sb->buf[mark] = '\0';
		sb_puts(sb, UNREADABLE);
	}
}

void repr_object(struct repr_ctx *c, uint64_t obj, struct strbuf *sb)
{
	size_t mark = sb->len;

	repr_at(c, obj, sb, 0);
	/* One repr stays short: cut at a character boundary. */
	if (sb->len - mark > c->lim.max_repr + 3) {
		size_t end = mark + c->lim.max_repr;

		while (end > mark && ((unsigned char)sb->buf[end] & 0xc0) == 0x80)
			end--;
		sb->len = end;
		sb->buf[end] = '\0';
		sb_puts(sb, "...");
	}
}
