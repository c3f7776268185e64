/*
 * plugins.ini's INI dialect (see ini.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "util.h"

struct parser {
	struct ini *ini;
	const char *path;
	char *err;
	size_t errlen;
	size_t section;     /* the current section, or SIZE_MAX before any */
	size_t cap_sections, cap_keys;
};

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* The start of a line for a message: printable ASCII, the rest as '?'. */
static void excerpt(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < outlen && i < 60; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	if (s[i] && i + 4 < outlen)
		memcpy(out + i, "...", 4);
}

static int too_many(struct parser *p, int line)
{
	if (p->ini->nsections + p->ini->nkeys < INI_MAX_ENTRIES)
		return 0;
	snprintf(p->err, p->errlen, "%s:%d: more than %u sections and keys (a plugins.ini names a few dozen modules)",
		 p->path, line, INI_MAX_ENTRIES);
	return -EINVAL;
}

static int add_section(struct parser *p, char *name, int line)
{
	struct ini *ini = p->ini;
	size_t idx;

	lower(name);
	if (strmap_get(&ini->section_map, name, strlen(name), &idx)) {
		p->section = idx;
		return 0;
	}
	if (too_many(p, line))
		return -EINVAL;
	if (ini->nsections == p->cap_sections) {
		p->cap_sections = p->cap_sections ? p->cap_sections * 2 : 16;
		ini->sections = xrealloc(ini->sections, p->cap_sections * sizeof(*ini->sections));
	}
	idx = ini->nsections++;
	ini->sections[idx].name = xstrdup(name);
	ini->sections[idx].line = line;
	strmap_put(&ini->section_map, ini->sections[idx].name, strlen(name), idx);
	p->section = idx;
	return 0;
}

static int add_key(struct parser *p, char *key, const char *value, int line)
{
	struct ini *ini = p->ini;
	const char *sec;
	struct ini_key *k;
	size_t idx;
	char *id;

	lower(key);
	if (p->section == SIZE_MAX) {
		snprintf(p->err, p->errlen, "%s:%d: %.64s: key outside any section (put it under [backend], [layouts], [outputs] or a module's section)",
			 p->path, line, key);
		return -EINVAL;
	}
	sec = ini->sections[p->section].name;
	id = xasprintf("%s\n%s", sec, key);
	if (strmap_get(&ini->key_map, id, strlen(id), &idx)) {
		snprintf(p->err, p->errlen, "%s:%d: [%.64s] %.64s: given twice (first at line %d)", p->path,
			 line, sec, key, ini->keys[idx].line);
		free(id);
		return -EINVAL;
	}
	if (too_many(p, line)) {
		free(id);
		return -EINVAL;
	}
	if (ini->nkeys == p->cap_keys) {
		p->cap_keys = p->cap_keys ? p->cap_keys * 2 : 16;
		ini->keys = xrealloc(ini->keys, p->cap_keys * sizeof(*ini->keys));
	}
	idx = ini->nkeys++;
	k = &ini->keys[idx];
	k->section = p->section;
	k->key = xstrdup(key);
	k->value = xstrdup(value);
	k->line = line;
	k->id = id;
	strmap_put(&ini->key_map, id, strlen(id), idx);
	return 0;
}

static int syntax_error(struct parser *p, const char *s, int line)
{
	char text[80];

	excerpt(s, text, sizeof(text));
	snprintf(p->err, p->errlen, "%s:%d: syntax error: %s", p->path, line, text);
	return -EINVAL;
}

/* One logical line (continuations joined), at `line`. */
static int parse_line(struct parser *p, char *s, int line)
{
	char *eq, *key, *v, *end;
	size_t len;

	s = trim(s);
	len = strlen(s);
	if (len == 0 || s[0] == ';' || s[0] == '#')
		return 0;
	if (s[0] == '[' && s[len - 1] == ']') {
		end = strchr(s + 1, ']');
		*end = '\0';
		v = trim(s + 1);
		if (!v[0]) {
			*end = ']';
			return syntax_error(p, s, line);
		}
		return add_section(p, v, line);
	}
	eq = strchr(s, '=');
	if (!eq)
		return syntax_error(p, s, line);
	*eq = '\0';
	key = trim(s);
	if (!key[0]) {
		*eq = '=';
		return syntax_error(p, s, line);
	}
	v = trim(eq + 1);
	if (v[0] == '"' || v[0] == '\'') {
		end = strchr(v + 1, v[0]);
		v++;
		if (end)
			*end = '\0';
	} else {
		v[strcspn(v, ";#")] = '\0';
		v = trim(v);
	}
	return add_key(p, key, v, line);
}

/* Whether a physical line holds a byte no text file has. */
static int bad_byte(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return 1;
	}
	return 0;
}

int ini_parse(struct ini *ini, const char *text, size_t len, const char *path, uint64_t seed,
	      char *err, size_t errlen)
{
	struct parser p = { .ini = ini, .path = path, .err = err, .errlen = errlen,
			    .section = SIZE_MAX };
	char *buf = xcalloc(1, INI_MAX_LINE + 1);
	size_t pos = 0, used, n;
	int lineno = 0, first, rc = 0;
	const char *nl;

	memset(ini, 0, sizeof(*ini));
	strmap_init(&ini->section_map, seed);
	strmap_init(&ini->key_map, seed ^ 0x9e3779b97f4a7c15ull);
	if (len > INI_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes (a plugins.ini is a few lines)", path,
			 INI_MAX_BYTES);
		rc = -EINVAL;
		goto out;
	}
	/* A byte order mark, as some editors write, is not part of the text. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len && rc == 0) {
		used = 0;
		first = lineno + 1;
		for (;;) {
			nl = memchr(text + pos, '\n', len - pos);
			n = nl ? (size_t)(nl - (text + pos)) : len - pos;
			lineno++;
			if (bad_byte(text + pos, n)) {
				snprintf(err, errlen, "%s:%d: a control character or NUL byte (not a text file?)",
					 path, lineno);
				rc = -EINVAL;
				goto out;
			}
			if (used + n > INI_MAX_LINE) {
				snprintf(err, errlen, "%s:%d: line longer than %d bytes", path, first,
					 INI_MAX_LINE);
				rc = -EINVAL;
				goto out;
			}
			memcpy(buf + used, text + pos, n);
			used += n;
			pos += n + (nl ? 1 : 0);
			while (used && (buf[used - 1] == ' ' || buf[used - 1] == '\t' || buf[used - 1] == '\r'))
				used--;
			if (!used || buf[used - 1] != '\\' || pos >= len)
				break;
			used--;  /* a '\' at the end: the line goes on */
		}
		buf[used] = '\0';
		rc = parse_line(&p, buf, first);
	}
out:
	free(buf);
	if (rc)
		ini_free(ini);
	return rc;
}

void ini_free(struct ini *ini)
{
	size_t i;

	for (i = 0; i < ini->nsections; i++)
		free(ini->sections[i].name);
	for (i = 0; i < ini->nkeys; i++) {
		free(ini->keys[i].key);
		free(ini->keys[i].value);
		free(ini->keys[i].id);
	}
	free(ini->sections);
	free(ini->keys);
	strmap_free(&ini->section_map);
	strmap_free(&ini->key_map);
	memset(ini, 0, sizeof(*ini));
}

/* Look up `name` (owned, lowercased here, freed) in m. */
static int lookup(struct strmap *m, char *name, size_t *idx)
{
	int found;

	lower(name);
	found = strmap_get(m, name, strlen(name), idx);
	free(name);
	return found;
}

const struct ini_section *ini_section(struct ini *ini, const char *name)
{
	size_t idx;

	return lookup(&ini->section_map, xstrdup(name), &idx) ? &ini->sections[idx] : NULL;
}

const struct ini_key *ini_key(struct ini *ini, const char *section, const char *key)
{
	size_t idx;

	return lookup(&ini->key_map, xasprintf("%s\n%s", section, key), &idx) ? &ini->keys[idx] : NULL;
}

unsigned long long ini_probes(const struct ini *ini)
{
	return ini->section_map.probes + ini->key_map.probes;
}
