/*
 * Code objects, decoded once (see codecache.h).
 *
 * The cache is an open-addressing hash table keyed by the code object's
 * address.  An entry stores the bytes of the fingerprint region (ob_type,
 * co_filename, co_name, co_linetable/co_lnotab pointers and co_firstlineno
 * lie together near the start of every PyCodeObject); a sample re-reads that
 * region for every code object it meets, in one batched read, and decodes a
 * code object again only when its fingerprint changed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecache.h"
#include "host.h"
#include "linetable.h"
#include "pyobject.h"
#include "util.h"

#define CODECACHE_MAX_ENTRIES (1u << 20)
#define CODECACHE_MAX_TABLE_BYTES ((size_t)256 << 20) /* line tables kept, in all */
#define BATCH 256

static void widen(int32_t off, int32_t size, int32_t *lo, int32_t *hi)
{
	if (off < 0)
		return;
	if (off < *lo)
		*lo = off;
	if (off + size > *hi)
		*hi = off + size;
}

void codecache_init(struct codecache *c, const struct pyspy_layout *l, struct remote *r,
		    struct interner *strings, int64_t pid, uint64_t code_type)
{
	int32_t lo = INT32_MAX, hi = 0;

	memset(c, 0, sizeof(*c));
	c->layout = l;
	c->remote = r;
	c->strings = strings;
	c->pid = pid;
	c->code_type = code_type;
	widen(l->object.ob_type, 8, &lo, &hi);
	widen(l->code.filename, 8, &lo, &hi);
	widen(l->code.name, 8, &lo, &hi);
	widen(l->code.linetable, 8, &lo, &hi);
	widen(l->code.firstlineno, 4, &lo, &hi);
	if (lo == INT32_MAX || hi - lo > CODE_FP_MAX) {
		lo = 0;
		hi = CODE_FP_MAX;
	}
	c->fp_start = lo;
	c->fp_len = hi - lo;
	c->nslots = 1024;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
}

static void clear_entry(struct code_entry *e)
{
	free(e->table);
	memset(e, 0, sizeof(*e));
}

void codecache_free(struct codecache *c)
{
	size_t i;

	for (i = 0; i < c->nslots; i++)
		free(c->slots[i].table);
	free(c->slots);
	free(c->shorts);
	free(c->fpbuf);
	memset(c, 0, sizeof(*c));
}

void codecache_begin(struct codecache *c)
{
	c->generation++;
	if (c->generation == 0)
		c->generation = 1;
}

static size_t slot_of(const struct codecache *c, uint64_t addr)
{
	return (size_t)(hash_u64(addr) & (c->nslots - 1));
}

static struct code_entry *lookup(struct codecache *c, uint64_t addr)
{
	size_t i = slot_of(c, addr), probes;

	for (probes = 0; probes < c->nslots; probes++) {
		struct code_entry *e = &c->slots[i];

		if (e->addr == addr)
			return e;
		if (e->addr == 0)
			return NULL;
		i = (i + 1) & (c->nslots - 1);
	}
	return NULL;
}

static void grow(struct codecache *c)
{
	struct code_entry *old = c->slots;
	size_t oldn = c->nslots, i;

	c->nslots *= 2;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	for (i = 0; i < oldn; i++) {
		size_t j;

		if (!old[i].addr)
			continue;
		j = slot_of(c, old[i].addr);
		while (c->slots[j].addr)
			j = (j + 1) & (c->nslots - 1);
		c->slots[j] = old[i];
	}
	free(old);
}

static struct code_entry *insert(struct codecache *c, uint64_t addr)
{
	size_t i;

	if (c->count >= CODECACHE_MAX_ENTRIES || c->table_bytes >= CODECACHE_MAX_TABLE_BYTES) {
		/* Bounded memory: start afresh rather than grow without end. */
		for (i = 0; i < c->nslots; i++)
			clear_entry(&c->slots[i]);
		c->count = 0;
		c->table_bytes = 0;
	}
	if ((c->count + 1) * 2 > c->nslots)
		grow(c);
	i = slot_of(c, addr);
	while (c->slots[i].addr)
		i = (i + 1) & (c->nslots - 1);
	c->slots[i].addr = addr;
	c->count++;
	return &c->slots[i];
}

const char *codecache_short_filename(struct codecache *c, const char *filename)
{
	char *dir, *slash;
	const char *result;
	size_t i;

	for (i = 0; i < c->nshorts; i++) {
		if (c->shorts[i].file == filename)
			return c->shorts[i].short_name;
	}
	result = filename;
	if (filename[0] == '/') {
		dir = xstrdup(filename);
		slash = strrchr(dir, '/');
		*slash = '\0';
		/* Climb while the folder is a package. */
		for (;;) {
			char *probe = xasprintf("%s/__init__.py", dir);
			int pkg = dir[0] && host_target_file_exists(c->pid, probe);

			free(probe);
			if (!pkg)
				break;
			slash = strrchr(dir, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
		result = intern(c->strings, filename + strlen(dir) + (dir[0] || filename[0] == '/' ? 1 : 0));
		free(dir);
	}
	if (c->nshorts == c->cap_shorts) {
		c->cap_shorts = c->cap_shorts ? c->cap_shorts * 2 : 16;
		c->shorts = xrealloc(c->shorts, c->cap_shorts * sizeof(*c->shorts));
	}
	c->shorts[c->nshorts].file = filename;
	c->shorts[c->nshorts].short_name = result;
	c->nshorts++;
	return result;
}

static const char *read_name(struct codecache *c, uint64_t addr)
{
	struct strbuf sb;
	const char *s;

	sb_init(&sb);
	if (!addr || pyobj_read_string(c->remote, c->layout, addr, &sb) != 0) {
		sb_free(&sb);
		return NULL;
	}
	s = intern_n(c->strings, sb.buf ? sb.buf : "", sb.len);
	sb_free(&sb);
	return s;
}

/* Decode the code object whose fingerprint bytes are in e->fp. */
static void decode(struct codecache *c, struct code_entry *e)
{
	const struct pyspy_layout *l = c->layout;
	size_t fplen = (size_t)c->fp_len;
	int32_t base = c->fp_start;
	uint64_t type, name, file, table;

	free(e->table);
	e->table = NULL;
	e->ntable = 0;
	e->ok = 0;
	e->last_addr = INT64_MIN;
	type = field_ptr(e->fp, fplen, l->object.ob_type - base);
	if (c->code_type && type != c->code_type)
		return;
	name = field_ptr(e->fp, fplen, l->code.name - base);
	file = field_ptr(e->fp, fplen, l->code.filename - base);
	table = field_ptr(e->fp, fplen, l->code.linetable - base);
	e->firstlineno = field_i32(e->fp, fplen, l->code.firstlineno - base);
	e->name = read_name(c, name);
	e->filename = read_name(c, file);
	if (!e->name || !e->filename)
		return;
	e->short_filename = codecache_short_filename(c, e->filename);
	if (table && pyobj_read_bytes(c->remote, l, table, &e->table, &e->ntable) == 0)
		c->table_bytes += e->ntable;
	e->ok = 1;
}

void codecache_preread(struct codecache *c, const uint64_t *pre, const uint8_t *bufs, size_t n)
{
	c->pre = pre;
	c->pre_bufs = bufs;
	c->npre = n;
}

/* Validate (and decode if it changed) a code object from its pre-read
 * fingerprint.  Returns 1 when it was among them. */
static int use_preread(struct codecache *c, uint64_t addr)
{
	struct code_entry *e;
	const uint8_t *fp;
	size_t i;

	for (i = 0; i < c->npre; i++) {
		if (c->pre[i] == addr)
			break;
	}
	if (i == c->npre)
		return 0;
	fp = c->pre_bufs + i * (size_t)c->fp_len;
	e = lookup(c, addr);
	if (!e)
		e = insert(c, addr);
	if (!e->ok || memcmp(e->fp, fp, (size_t)c->fp_len) != 0) {
		memcpy(e->fp, fp, (size_t)c->fp_len);
		decode(c, e);
	}
	e->seen = c->generation;
	return 1;
}

void codecache_prepare(struct codecache *c, const uint64_t *addrs, size_t n)
{
	struct pyspy_iov iov[BATCH];
	uint8_t (*buf)[CODE_FP_MAX];
	uint64_t todo[BATCH];
	size_t i = 0;

	if (!c->fpbuf)
		c->fpbuf = xcalloc(BATCH, CODE_FP_MAX);
	buf = (uint8_t (*)[CODE_FP_MAX])c->fpbuf;

	while (i < n) {
		size_t k = 0, j;
		int got;

		/* Gather up to BATCH code objects not yet validated in this sample. */
		for (; i < n && k < BATCH; i++) {
			struct code_entry *e;
			int dup = 0;

			if (!addrs[i] || (i > 0 && addrs[i] == addrs[i - 1]))
				continue;
			e = lookup(c, addrs[i]);
			if (e && e->seen == c->generation)
				continue;
			if (use_preread(c, addrs[i]))
				continue;
			for (j = 0; j < k; j++)
				dup |= todo[j] == addrs[i];
			if (dup)
				continue;
			todo[k] = addrs[i];
			iov[k].remote = addrs[i] + (uint64_t)c->fp_start;
			iov[k].local = buf[k];
			iov[k].len = (size_t)c->fp_len;
			k++;
		}
		if (!k)
			break;
		got = remote_readv(c->remote, iov, k);
		for (j = 0; j < k; j++) {
			struct code_entry *e = lookup(c, todo[j]);
			int ok = (int)j < got;

			/* A read that stopped early leaves the rest unread: try them alone. */
			if (!ok && got >= 0)
				ok = remote_read(c->remote, iov[j].remote, buf[j], iov[j].len) == 0;
			if (!ok) {
				if (e) {
					uint64_t a = e->addr;

					clear_entry(e);
					e->addr = a;
					e->seen = c->generation;
				}
				continue;
			}
			if (!e)
				e = insert(c, todo[j]);
			if (!e->ok || memcmp(e->fp, buf[j], (size_t)c->fp_len) != 0) {
				memcpy(e->fp, buf[j], (size_t)c->fp_len);
				decode(c, e);
			}
			e->seen = c->generation;
		}
	}
	c->npre = 0;
}

struct code_entry *codecache_get(struct codecache *c, uint64_t addr)
{
	struct code_entry *e = lookup(c, addr);

	return (e && e->ok && e->seen == c->generation) ? e : NULL;
}

int codecache_line(struct codecache *c, struct code_entry *e, int64_t addr)
{
	int line;

	if (addr == e->last_addr)
		return e->last_line;
	line = linetable_line(c->layout->line_table, e->table, e->ntable, e->firstlineno, addr);
	e->last_addr = addr;
	e->last_line = line;
	return line;
}
