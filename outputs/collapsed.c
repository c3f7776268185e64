/*
 * collapsed: py-spy record's "raw" format, the folded stacks that
 * flamegraph.pl and inferno read.
 *
 * One line per unique stack: the frames root first joined by ';', one space,
 * the number of times the stack was seen.  Line order is not part of the
 * format (it is that of the trie nodes, fixed for a given input).
 *
 * Stacks are aggregated in memory while sampling, in a trie keyed by
 * (parent node, frame): a frame is identified by the core's interned string
 * pointers, so a stack seen before costs hash look-ups and no string work.
 * Everything is written in finish.
 *
 * Names are made safe for the format: a ';' inside a name or file becomes ':', so ';' only ever
 * separates frames; control characters (newline, tab, ...) become '?', so a
 * stack stays on one line; invalid UTF-8 becomes U+FFFD.  A name may hold
 * spaces: readers split the count off at the last space.  Stacks without
 * frames are not written (they have nothing to draw).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pyspy/output.h>

#define COLL_MAX_NODES (1u << 28)   /* trie nodes kept at most */
#define COLL_MAX_DEPTH 65536u       /* frames of one stack used at most */
#define COLL_MAX_PART 4096u         /* bytes of one name or file used at most */
#define COLL_NONE UINT32_MAX

/* A distinct frame: the strings are the core's interned pointers. */
struct coll_frame {
	const char *name;
	const char *file;
	int32_t line;     /* 0 when lines are not shown */
	uint32_t pseudo;  /* thread/process pseudo-frame: name only */
	uint32_t label;   /* offset of the label in labels (finish) */
};

/* A trie node: one stack prefix, root first. */
struct coll_node {
	uint32_t parent;  /* COLL_NONE for the children of the root */
	uint32_t frame;
	uint64_t self;    /* stacks ending exactly here */
};

struct coll_slot {
	uint64_t hash;
	uint32_t idx1;    /* entry index + 1; 0 = empty */
	uint32_t reserved;
};

struct coll_table {
	struct coll_slot *slots;
	size_t cap;       /* power of two, or 0 */
	size_t count;
};

struct coll_buf {
	char *p;
	size_t len, cap;
};

struct coll_state {
	const struct pyspy_host *host;
	FILE *stream;
	uint8_t show_lines, full_filenames;

	struct coll_frame *frames;
	size_t nframes, frames_cap;
	struct coll_table frame_index;

	struct coll_node *nodes;
	size_t nnodes, nodes_cap;
	struct coll_table node_index;

	uint32_t *path;   /* scratch: one stack's node path */
	size_t path_cap;
	struct coll_buf labels;
};

static int coll_grow(const struct pyspy_host *host, void **arr, size_t *cap,
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

static uint64_t coll_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Make room for one more entry: keep the load under one half. */
static int coll_table_reserve(const struct pyspy_host *host, struct coll_table *t)
{
	struct coll_slot *slots;
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

/* The frame of f's identity, added if new; returns its index or -errno. */
static int64_t coll_frame_id(struct coll_state *st, const struct pyspy_frame *f)
{
	struct coll_frame key = { 0 };
	size_t i;
	uint64_t h;
	int rc;

	key.name = f->name ? f->name : "";
	key.pseudo = !!(f->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS));
	if (!key.pseudo) {
		key.file = st->full_filenames ? f->filename : f->short_filename;
		if (!key.file)
			key.file = "";
		key.line = st->show_lines ? f->line : 0;
	}
	h = coll_mix((uintptr_t)key.name ^ coll_mix((uintptr_t)key.file) ^
		     coll_mix(((uint64_t)(uint32_t)key.line << 1) | key.pseudo));
	if (st->frame_index.cap) {
		for (i = h & (st->frame_index.cap - 1); st->frame_index.slots[i].idx1;
		     i = (i + 1) & (st->frame_index.cap - 1)) {
			const struct coll_slot *s = &st->frame_index.slots[i];
			const struct coll_frame *e = &st->frames[s->idx1 - 1];

			if (s->hash == h && e->name == key.name && e->file == key.file &&
			    e->line == key.line && e->pseudo == key.pseudo)
				return s->idx1 - 1;
		}
	}
	rc = coll_grow(st->host, (void **)&st->frames, &st->frames_cap, st->nframes + 1,
		       sizeof(*st->frames), COLL_MAX_NODES);
	if (rc)
		return rc;
	rc = coll_table_reserve(st->host, &st->frame_index);
	if (rc)
		return rc;
	for (i = h & (st->frame_index.cap - 1); st->frame_index.slots[i].idx1;
	     i = (i + 1) & (st->frame_index.cap - 1))
		;
	st->frame_index.slots[i].hash = h;
	st->frame_index.slots[i].idx1 = (uint32_t)st->nframes + 1;
	st->frame_index.count++;
	st->frames[st->nframes] = key;
	return (int64_t)st->nframes++;
}

/* The child of parent for frame, added if new; returns its index or -errno. */
static int64_t coll_node_id(struct coll_state *st, uint32_t parent, uint32_t frame)
{
	uint64_t h = coll_mix(((uint64_t)parent << 32) | frame);
	size_t i;
	int rc;

	if (st->node_index.cap) {
		for (i = h & (st->node_index.cap - 1); st->node_index.slots[i].idx1;
		     i = (i + 1) & (st->node_index.cap - 1)) {
			const struct coll_slot *s = &st->node_index.slots[i];
			const struct coll_node *n = &st->nodes[s->idx1 - 1];

			if (s->hash == h && n->parent == parent && n->frame == frame)
				return s->idx1 - 1;
		}
	}
	rc = coll_grow(st->host, (void **)&st->nodes, &st->nodes_cap, st->nnodes + 1,
		       sizeof(*st->nodes), COLL_MAX_NODES);
	if (rc)
		return rc;
	rc = coll_table_reserve(st->host, &st->node_index);
	if (rc)
		return rc;
	for (i = h & (st->node_index.cap - 1); st->node_index.slots[i].idx1;
	     i = (i + 1) & (st->node_index.cap - 1))
		;
	st->node_index.slots[i].hash = h;
	st->node_index.slots[i].idx1 = (uint32_t)st->nnodes + 1;
	st->node_index.count++;
	st->nodes[st->nnodes].parent = parent;
	st->nodes[st->nnodes].frame = frame;
	st->nodes[st->nnodes].self = 0;
	return (int64_t)st->nnodes++;
}

/* Count one stack: walk the trie from the root (the outermost frame). */
static int coll_add_stack(struct coll_state *st, const struct pyspy_stack *stack)
{
	uint32_t n = stack->nframes, parent = COLL_NONE, i, end;
	int64_t id = -1;

	if (!stack->frames || n == 0)
		return 0;
	/* the outermost frames are kept when a stack is too deep */
	end = n > COLL_MAX_DEPTH ? n - COLL_MAX_DEPTH : 0;
	for (i = n; i-- > end;) {
		id = coll_frame_id(st, &stack->frames[i]);
		if (id < 0)
			return (int)id;
		id = coll_node_id(st, parent, (uint32_t)id);
		if (id < 0)
			return (int)id;
		parent = (uint32_t)id;
	}
	st->nodes[parent].self++;
	return 0;
}

static int coll_buf_put(const struct pyspy_host *host, struct coll_buf *b,
			const void *s, size_t n)
{
	int rc = coll_grow(host, (void **)&b->p, &b->cap, b->len + n + 1, 1, SIZE_MAX / 2);

	if (rc)
		return rc;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t coll_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, or a surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, or above U+10FFFF */
		return 4;
	}
	return 0;
}

/* Append s made safe for the format: see the top of this file. */
static int coll_put_safe(const struct pyspy_host *host, struct coll_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, COLL_MAX_PART), i = 0, len;
	int rc = 0;

	while (i < n && !rc) {
		len = coll_utf8_len(p + i, n - i);
		if (len == 0) {
			rc = coll_buf_put(host, b, "\xef\xbf\xbd", 3);
			i++;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			rc = coll_buf_put(host, b, "?", 1);
			i++;
		} else if (p[i] == ';') {
			rc = coll_buf_put(host, b, ":", 1);
			i++;
		} else {
			rc = coll_buf_put(host, b, p + i, len);
			i += len;
		}
	}
	return rc;
}

/* `name (file:line)`, `name (file)` or `name`, NUL-terminated in labels. */
static int coll_make_label(struct coll_state *st, struct coll_frame *f)
{
	const struct pyspy_host *host = st->host;
	struct coll_buf *b = &st->labels;
	char num[16];
	int rc;

	f->label = (uint32_t)b->len;
	if (b->len > UINT32_MAX - 8 * COLL_MAX_PART)
		return -ENOMEM;
	rc = coll_put_safe(host, b, f->name);
	if (rc || f->pseudo || !f->file[0])
		goto out_end;
	rc = coll_buf_put(host, b, " (", 2);
	if (!rc)
		rc = coll_put_safe(host, b, f->file);
	if (!rc && f->line != 0) {
		snprintf(num, sizeof(num), ":%d", (int)f->line);
		rc = coll_buf_put(host, b, num, strlen(num));
	}
	if (!rc)
		rc = coll_buf_put(host, b, ")", 1);
out_end:
	if (!rc)
		rc = coll_buf_put(host, b, "", 1); /* keep the terminator */
	return rc;
}

/* The error of a failed write, as a negative errno. */
static int coll_write_error(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* Write the stack ending at node, root first, and its count. */
static int coll_write_line(struct coll_state *st, uint32_t node)
{
	size_t depth = 0, i;
	uint32_t n;
	int rc;

	for (n = node; n != COLL_NONE; n = st->nodes[n].parent) {
		rc = coll_grow(st->host, (void **)&st->path, &st->path_cap, depth + 1,
			       sizeof(*st->path), COLL_MAX_DEPTH + 1);
		if (rc)
			return rc;
		st->path[depth++] = n;
	}
	for (i = depth; i-- > 0;) {
		const struct coll_frame *f = &st->frames[st->nodes[st->path[i]].frame];

		if (fputs(st->labels.p + f->label, st->stream) == EOF)
			return coll_write_error();
		if (i && putc(';', st->stream) == EOF)
			return coll_write_error();
	}
	if (fprintf(st->stream, " %llu\n", (unsigned long long)st->nodes[node].self) < 0)
		return coll_write_error();
	return 0;
}

static int coll_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		     FILE *stream, void **state, char *err, size_t errlen)
{
	struct coll_state *st;

	if (!stream) {
		snprintf(err, errlen, "collapsed: no stream to write to");
		return -EINVAL;
	}
	st = host->alloc(sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "collapsed: out of memory");
		return -ENOMEM;
	}
	st->host = host;
	st->stream = stream;
	st->show_lines = cfg->show_lines;
	st->full_filenames = cfg->full_filenames;
	*state = st;
	return 0;
}

static int coll_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct coll_state *st = state;
	uint32_t i;
	int rc;

	if (!sample->stacks)
		return 0;
	for (i = 0; i < sample->nstacks; i++) {
		rc = coll_add_stack(st, &sample->stacks[i]);
		if (rc) {
			snprintf(err, errlen, "collapsed: out of memory after %zu stack prefixes",
				 st->nnodes);
			return rc;
		}
	}
	return 0;
}

static int coll_finish(void *state, const struct pyspy_run_summary *summary,
		       char *err, size_t errlen)
{
	struct coll_state *st = state;
	size_t i;
	int rc = 0;

	for (i = 0; i < st->nframes && !rc; i++)
		rc = coll_make_label(st, &st->frames[i]);
	if (rc) {
		snprintf(err, errlen, "collapsed: out of memory");
		return rc;
	}
	errno = 0;
	for (i = 0; i < st->nnodes && !rc; i++) {
		if (st->nodes[i].self)
			rc = coll_write_line(st, (uint32_t)i);
	}
	if (!rc && fflush(st->stream) == EOF)
		rc = coll_write_error();
	if (!rc && ferror(st->stream))
		rc = -EIO;
	if (rc == -EPIPE)
		snprintf(err, errlen, "collapsed: broken pipe");
	else if (rc == -ENOMEM)
		snprintf(err, errlen, "collapsed: out of memory");
	else if (rc)
		snprintf(err, errlen, "collapsed: cannot write: %s", strerror(-rc));
	return rc;
}

static void coll_close(void *state)
{
	struct coll_state *st = state;
	const struct pyspy_host *host;

	if (!st)
		return;
	host = st->host;
	host->free(st->frames);
	host->free(st->frame_index.slots);
	host->free(st->nodes);
	host->free(st->node_index.slots);
	host->free(st->path);
	host->free(st->labels.p);
	host->free(st);
}

static const struct pyspy_output_ops coll_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_RECORD,
	.format = "collapsed",
	.aliases = "raw",
	.extension = "txt",
	.to_stdout = 1,
	.open = coll_open,
	.sample = coll_sample,
	.finish = coll_finish,
	.close = coll_close,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "collapsed",
	.summary = "folded stacks, one line per unique stack (flamegraph.pl input)",
	.ops = &coll_ops,
};
