/*
 * _Py_DebugOffsets (see debugoffsets.h).
 *
 * A field list is "group.field[=member],..." as a layout module writes it.
 * Walking it gives, for word i of the table, the field's name and the
 * layout member it feeds, if any.  Lists come from our own modules, but
 * they are bounded all the same: DEBUG_OFFSETS_MAX words, names of at most
 * 127 bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "debugoffsets.h"
#include "layoutcopy.h"

#define MAX_STRUCT_SIZE (16u << 20) /* no CPython struct is near this */

int debug_offsets_parse(const void *buf, size_t len, struct debug_offsets *d)
{
	const unsigned char *p = buf;
	unsigned i;

	memset(d, 0, sizeof(*d));
	if (len < DEBUG_OFFSETS_HEADER || memcmp(p, "xdebugpy", 8) != 0)
		return -ENOENT;
	memcpy(&d->version, p + 8, 8);
	memcpy(&d->free_threaded, p + 16, 8);
	if ((d->version >> 24) != 3 || ((d->version >> 16) & 255) < 13 || d->free_threaded > 1)
		return -EINVAL;
	d->nwords = (unsigned)((len - DEBUG_OFFSETS_HEADER) / 8);
	if (d->nwords > DEBUG_OFFSETS_MAX)
		d->nwords = DEBUG_OFFSETS_MAX;
	for (i = 0; i < d->nwords; i++)
		memcpy(&d->words[i], p + DEBUG_OFFSETS_HEADER + (size_t)i * 8, 8);
	return 0;
}

int debug_offsets_read(struct remote *r, uint64_t runtime, struct debug_offsets *d)
{
	unsigned char buf[DEBUG_OFFSETS_HEADER + DEBUG_OFFSETS_MAX * 8];
	size_t len = sizeof(buf);

	memset(d, 0, sizeof(*d));
	if (remote_read(r, runtime, buf, DEBUG_OFFSETS_HEADER) != 0 || memcmp(buf, "xdebugpy", 8) != 0)
		return -ENOENT;
	/* The runtime is far larger than the table, but it may end at a
	 * mapping's end: read less until a read succeeds. */
	while (len > DEBUG_OFFSETS_HEADER && remote_read(r, runtime, buf, len) != 0)
		len = len > 4096 ? len - 1024 : DEBUG_OFFSETS_HEADER + (len - DEBUG_OFFSETS_HEADER) / 2;
	return debug_offsets_parse(buf, len, d);
}

/* One entry of a field list. */
struct field {
	const char *name;  /* "group.field" */
	size_t name_len;
	const char *member; /* layout member, or NULL */
	size_t member_len;
};

/* The entry at *pos of `fields`, advancing *pos: 1, 0 at the end, or
 * -EINVAL for a malformed entry. */
static int next_field(const char **pos, struct field *f)
{
	const char *s = *pos, *end, *eq;

	if (!*s)
		return 0;
	end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	eq = memchr(s, '=', (size_t)(end - s));
	f->name = s;
	f->name_len = (size_t)((eq ? eq : end) - s);
	f->member = eq ? eq + 1 : NULL;
	f->member_len = eq ? (size_t)(end - eq - 1) : 0;
	*pos = *end ? end + 1 : end;
	if (f->name_len == 0 || f->name_len > 127 || (eq && f->member_len == 0))
		return -EINVAL;
	return 1;
}

int debug_offsets_get(const struct debug_offsets *d, const char *fields, const char *name,
		      uint64_t *out)
{
	const char *pos = fields ? fields : "";
	struct field f;
	unsigned i;

	for (i = 0; i < DEBUG_OFFSETS_MAX && next_field(&pos, &f) == 1; i++) {
		if (f.name_len == strlen(name) && memcmp(f.name, name, f.name_len) == 0) {
			if (i >= d->nwords)
				return -ENOENT;
			*out = d->words[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* Each member the list names, with its value from the table, into `out`
 * (a copy of the layout); -EINVAL for a malformed list, a member the core
 * does not know, a value beyond int32, or a list longer than the table. */
static int fill(const struct debug_offsets *d, const char *fields, struct pyspy_layout *out,
		char *err, size_t errlen)
{
	const char *pos = fields;
	struct field f;
	unsigned i = 0;
	int rc;

	while ((rc = next_field(&pos, &f)) == 1) {
		int32_t *m;

		if (i >= DEBUG_OFFSETS_MAX || i >= d->nwords) {
			snprintf(err, errlen, "the table is shorter than the field list (%u words)", d->nwords);
			return -EINVAL;
		}
		if (f.member) {
			m = layout_member(out, f.member, f.member_len);
			if (!m) {
				snprintf(err, errlen, "the field list names an unknown member \"%.*s\"",
					 (int)f.member_len, f.member);
				return -EINVAL;
			}
			if (d->words[i] > MAX_STRUCT_SIZE) {
				snprintf(err, errlen, "%.*s is %llu", (int)f.name_len, f.name,
					 (unsigned long long)d->words[i]);
				return -EINVAL;
			}
			*m = (int32_t)d->words[i];
		}
		i++;
	}
	if (rc < 0)
		snprintf(err, errlen, "malformed field list");
	return rc;
}

int debug_offsets_compare(const struct debug_offsets *d, const char *fields,
			  const struct pyspy_layout *l, char *diff, size_t difflen)
{
	struct pyspy_layout mine = *l, theirs = *l;
	const char *pos = fields ? fields : "";
	struct field f;
	size_t used = 0;
	int rc, n = 0;

	if (difflen)
		diff[0] = '\0';
	rc = fill(d, pos, &theirs, diff, difflen);
	if (rc < 0)
		return rc;
	while (next_field(&pos, &f) == 1) {
		int32_t *a, *b;

		if (!f.member)
			continue;
		a = layout_member(&mine, f.member, f.member_len);
		b = layout_member(&theirs, f.member, f.member_len);
		if (*a == *b)
			continue;
		if (n++ < 4 && used < difflen) {
			int w = snprintf(diff + used, difflen - used, "%s%.*s %d (table) vs %d (module)",
					 used ? "; " : "", (int)f.member_len, f.member, *b, *a);
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return n;
}

/* A group of members that lie inside one struct, with that struct's size. */
static const char *const sized_groups[] = { "runtime", "interp", "tstate", "iframe", "code" };

static int check_groups(const struct debug_offsets *d, const char *fields,
			struct pyspy_layout *l, char *err, size_t errlen)
{
	const char *pos = fields;
	struct field f;

	while (next_field(&pos, &f) == 1) {
		char size_name[64];
		const char *dot;
		int32_t *v, *size;
		size_t g;

		if (!f.member)
			continue;
		v = layout_member(l, f.member, f.member_len);
		dot = memchr(f.member, '.', f.member_len);
		if (!dot)
			continue;
		for (g = 0; g < sizeof(sized_groups) / sizeof(sized_groups[0]); g++) {
			if (strlen(sized_groups[g]) == (size_t)(dot - f.member) &&
			    memcmp(sized_groups[g], f.member, (size_t)(dot - f.member)) == 0)
				break;
		}
		if (g == sizeof(sized_groups) / sizeof(sized_groups[0]))
			continue;
		snprintf(size_name, sizeof(size_name), "%s.size", sized_groups[g]);
		size = layout_member(l, size_name, strlen(size_name));
		if (*size <= 0) {
			snprintf(err, errlen, "%s is not plausible (%d)", size_name, *size);
			return -EINVAL;
		}
		if (v != size && *v >= *size) {
			snprintf(err, errlen, "%.*s (%d) lies beyond %s (%d)", (int)f.member_len,
				 f.member, *v, size_name, *size);
			return -EINVAL;
		}
	}
	return 0;
}

int debug_offsets_apply(const struct debug_offsets *d, const char *fields,
			struct pyspy_layout *l, char *err, size_t errlen)
{
	struct pyspy_layout out = *l;
	int rc;

	if (!fields || !*fields) {
		snprintf(err, errlen, "the layout has no _Py_DebugOffsets field list");
		return -EINVAL;
	}
	rc = fill(d, fields, &out, err, errlen);
	if (rc == 0)
		rc = check_groups(d, fields, &out, err, errlen);
	if (rc)
		return rc;
	*l = out;
	return 0;
}
