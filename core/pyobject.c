/*
 * Reading CPython objects out of the target (see pyobject.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pyobject.h"

void utf8_put(struct strbuf *sb, uint32_t cp)
{
	char b[4];

	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		sb_putc(sb, (char)cp);
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 63));
		sb_put(sb, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 63));
		b[2] = (char)(0x80 | (cp & 63));
		sb_put(sb, b, 3);
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 63));
		b[2] = (char)(0x80 | ((cp >> 6) & 63));
		b[3] = (char)(0x80 | (cp & 63));
		sb_put(sb, b, 4);
	}
}

/*
 * One code point of a name.  Names end up as C strings: an embedded NUL
 * would cut the name there, so it is written as the four characters \x00,
 * the form the outputs give other control characters.
 */
static void put_name_char(struct strbuf *sb, uint32_t cp)
{
	if (cp == 0)
		sb_put(sb, "\\x00", 4);
	else if (cp < 0x80)
		sb_putc(sb, (char)cp);
	else
		utf8_put(sb, cp);
}

static int read_bytes_string(struct remote *r, const struct pyspy_layout *l, uint64_t addr,
			     struct strbuf *sb)
{
	uint8_t *data;
	size_t len, i;
	int rc = pyobj_read_bytes(r, l, addr, &data, &len);

	if (rc)
		return rc;
	if (len > PYOBJ_MAX_STRING)
		len = PYOBJ_MAX_STRING;
	for (i = 0; i < len; i++) { /* 2.7: the bytes as they are, but NUL */
		if (data[i])
			sb_putc(sb, (char)data[i]);
		else
			put_name_char(sb, 0);
	}
	free(data);
	return 0;
}

int pyobj_read_string(struct remote *r, const struct pyspy_layout *l, uint64_t addr,
		      struct strbuf *sb)
{
	uint8_t head[128];
	size_t headlen;
	uint32_t state, kind, compact, ascii;
	int64_t length;
	uint64_t data;
	uint8_t *buf;
	size_t nbytes, i;
	int rc;

	if (l->string_model == PYSPY_STRINGS_BYTES)
		return read_bytes_string(r, l, addr, sb);

	headlen = (size_t)l->unicode.compact_data;
	if (l->unicode.legacy_data + 8 > (int32_t)headlen)
		headlen = (size_t)l->unicode.legacy_data + 8;
	if (headlen > sizeof(head))
		return -EINVAL;
	rc = remote_read(r, addr, head, headlen);
	if (rc)
		return rc;
	state = field_u32(head, headlen, l->unicode.state);
	length = field_i64(head, headlen, l->unicode.length);
	kind = (state >> l->unicode.kind_shift) & 7;
	compact = (state >> l->unicode.compact_shift) & 1;
	ascii = (state >> l->unicode.ascii_shift) & 1;
	if (length < 0 || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if (length > PYOBJ_MAX_STRING)
		length = PYOBJ_MAX_STRING;
	if (compact)
		data = addr + (uint64_t)(ascii ? l->unicode.ascii_data : l->unicode.compact_data);
	else
		data = field_ptr(head, headlen, l->unicode.legacy_data);
	nbytes = (size_t)length * kind;
	if (nbytes == 0)
		return 0;
	buf = xcalloc(1, nbytes);
	rc = remote_read(r, data, buf, nbytes);
	if (rc) {
		free(buf);
		return rc;
	}
	for (i = 0; i < (size_t)length; i++) {
		uint32_t cp;

		if (kind == 1) {
			cp = buf[i];
		} else if (kind == 2) {
			uint16_t u;

			memcpy(&u, buf + 2 * i, 2);
			cp = u;
		} else {
			memcpy(&cp, buf + 4 * i, 4);
		}
		put_name_char(sb, cp);
	}
	free(buf);
	return 0;
}

int pyobj_read_bytes(struct remote *r, const struct pyspy_layout *l, uint64_t addr,
		     uint8_t **out, size_t *len)
{
	int64_t size;
	uint8_t *buf;
	int rc;

	*out = NULL;
	*len = 0;
	if (l->bytes.ob_size < 0 || l->bytes.ob_sval < 0)
		return -EINVAL;
	rc = remote_read(r, addr + (uint64_t)l->bytes.ob_size, &size, sizeof(size));
	if (rc)
		return rc;
	if (size < 0 || size > (int64_t)PYOBJ_MAX_BYTES)
		return -EINVAL;
	buf = xcalloc(1, (size_t)size + 1);
	if (size) {
		rc = remote_read(r, addr + (uint64_t)l->bytes.ob_sval, buf, (size_t)size);
		if (rc) {
			free(buf);
			return rc;
		}
	}
	*out = buf;
	*len = (size_t)size;
	return 0;
}
