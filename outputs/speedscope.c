/*
 * speedscope: py-spy record's JSON for https://www.speedscope.app, following
 * its file-format schema (https://www.speedscope.app/file-format-schema.json).
 *
 *   {"$schema":..., "shared":{"frames":[{"name","file","line"}...]},
 *    "profiles":[{"type":"sampled", "name":"Thread TID \"NAME\"",
 *                 "unit":"seconds", "startValue":0, "endValue":n/rate,
 *                 "samples":[[frame index, root first]...],
 *                 "weights":[1/rate...]}...],
 *    "name":"py-spy profile", "activeProfileIndex":null,
 *    "exporter":"py-spy@VERSION"}
 *
 * One sampled profile per thread, keyed by (pid, interpreter thread id),
 * its samples in the order they were taken; profiles are sorted by name.
 * TID in the name is the kernel thread id when known, else the
 * interpreter's; when stacks of more than one process were recorded the
 * name starts with "Process PID ".  A frame's file is always the full
 * filename; line is left out when unknown or line numbers are off (the
 * schema's line and col are optional numbers, so no nulls), and pseudo
 * frames (thread, process) have a name only.
 *
 * Memory: each distinct stack is stored once, in a trie keyed by (parent
 * node, frame) with frames identified by the core's interned strings; a
 * sample costs one node index.  Everything is written in finish.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/output.h>

#ifndef PYSPY_VERSION
#define PYSPY_VERSION "unknown"
#endif

#define SS_SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define SS_MAX_ENTRIES (1u << 28)   /* frames, nodes, profiles, samples */
#define SS_MAX_DEPTH 65536u         /* frames of one stack used at most */
#define SS_MAX_PART 4096u           /* bytes of one string written at most */
#define SS_NONE UINT32_MAX

struct ss_frame {
	const char *name;
	const char *file;
	int32_t line;     /* 0: unknown or lines off */
	uint32_t pseudo;  /* thread/process pseudo-frame */
};

struct ss_node {
	uint32_t parent;  /* SS_NONE for the outermost frames */
	uint32_t frame;
	uint32_t depth;   /* frames from the root to here, inclusive */
};

struct ss_profile {
	int64_t pid;
	uint64_t thread_id;
	int64_t os_thread_id;
	const char *thread_name;
	uint32_t *samples; /* trie leaf per sample; SS_NONE: empty stack */
	size_t nsamples, samples_cap;
	char *name;        /* built in finish */
};

struct ss_slot {
	uint64_t hash;
	uint32_t idx1;    /* entry index + 1; 0 = empty */
	uint32_t reserved;
};

struct ss_table {
	struct ss_slot *slots;
	size_t cap;
	size_t count;
};

struct ss_state {
	const struct pyspy_host *host;
	FILE *stream;
	uint8_t show_lines;
	double rate;

	struct ss_frame *frames;
	size_t nframes, frames_cap;
	struct ss_table frame_index;

	struct ss_node *nodes;
	size_t nnodes, nodes_cap;
	struct ss_table node_index;

	struct ss_profile *profiles;
	size_t nprofiles, profiles_cap;
	struct ss_table profile_index;

	uint32_t *path;   /* scratch: one stack's frames */
	size_t path_cap;
};

static int ss_grow(const struct pyspy_host *host, void **arr, size_t *cap,
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

static uint64_t ss_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Make room for one more entry: keep the load under one half. */
static int ss_table_reserve(const struct pyspy_host *host, struct ss_table *t)
{
	struct ss_slot *slots;
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

/* Insert entry idx under hash h; the table has room (ss_table_reserve). */
static void ss_table_insert(struct ss_table *t, uint64_t h, size_t idx)
{
	size_t i;

	for (i = h & (t->cap - 1); t->slots[i].idx1; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i].hash = h;
	t->slots[i].idx1 = (uint32_t)idx + 1;
	t->count++;
}

/* The frame of f's identity, added if new; returns its index or -errno. */
static int64_t ss_frame_id(struct ss_state *st, const struct pyspy_frame *f)
{
	struct ss_frame key = { 0 };
	size_t i;
	uint64_t h;
	int rc;

	key.name = f->name ? f->name : "";
	key.pseudo = !!(f->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS));
	if (!key.pseudo) {
		key.file = f->filename ? f->filename : "";
		key.line = st->show_lines ? f->line : 0;
	}
	h = ss_mix((uintptr_t)key.name ^ ss_mix((uintptr_t)key.file) ^
		   ss_mix(((uint64_t)(uint32_t)key.line << 1) | key.pseudo));
	if (st->frame_index.cap) {
		for (i = h & (st->frame_index.cap - 1); st->frame_index.slots[i].idx1;
		     i = (i + 1) & (st->frame_index.cap - 1)) {
			const struct ss_slot *s = &st->frame_index.slots[i];
			const struct ss_frame *e = &st->frames[s->idx1 - 1];

			if (s->hash == h && e->name == key.name && e->file == key.file &&
			    e->line == key.line && e->pseudo == key.pseudo)
				return s->idx1 - 1;
		}
	}
	rc = ss_grow(st->host, (void **)&st->frames, &st->frames_cap, st->nframes + 1,
		     sizeof(*st->frames), SS_MAX_ENTRIES);
	if (!rc)
		rc = ss_table_reserve(st->host, &st->frame_index);
	if (rc)
		return rc;
	ss_table_insert(&st->frame_index, h, st->nframes);
	st->frames[st->nframes] = key;
	return (int64_t)st->nframes++;
}

/* The child of parent for frame, added if new; returns its index or -errno. */
static int64_t ss_node_id(struct ss_state *st, uint32_t parent, uint32_t frame)
{
	uint64_t h = ss_mix(((uint64_t)parent << 32) | frame);
	size_t i;
	int rc;

	if (st->node_index.cap) {
		for (i = h & (st->node_index.cap - 1); st->node_index.slots[i].idx1;
		     i = (i + 1) & (st->node_index.cap - 1)) {
			const struct ss_slot *s = &st->node_index.slots[i];
			const struct ss_node *n = &st->nodes[s->idx1 - 1];

			if (s->hash == h && n->parent == parent && n->frame == frame)
				return s->idx1 - 1;
		}
	}
	rc = ss_grow(st->host, (void **)&st->nodes, &st->nodes_cap, st->nnodes + 1,
		     sizeof(*st->nodes), SS_MAX_ENTRIES);
	if (!rc)
		rc = ss_table_reserve(st->host, &st->node_index);
	if (rc)
		return rc;
	ss_table_insert(&st->node_index, h, st->nnodes);
	st->nodes[st->nnodes].parent = parent;
	st->nodes[st->nnodes].frame = frame;
	st->nodes[st->nnodes].depth = parent == SS_NONE ? 1 : st->nodes[parent].depth + 1;
	return (int64_t)st->nnodes++;
}

/* The profile of the stack's thread, added if new. */
static int64_t ss_profile_id(struct ss_state *st, const struct pyspy_stack *stack)
{
	uint64_t h = ss_mix((uint64_t)stack->pid ^ ss_mix(stack->thread_id));
	struct ss_profile *p;
	size_t i;
	int rc;

	if (st->profile_index.cap) {
		for (i = h & (st->profile_index.cap - 1); st->profile_index.slots[i].idx1;
		     i = (i + 1) & (st->profile_index.cap - 1)) {
			const struct ss_slot *s = &st->profile_index.slots[i];

			p = &st->profiles[s->idx1 - 1];
			if (s->hash == h && p->pid == stack->pid && p->thread_id == stack->thread_id)
				return s->idx1 - 1;
		}
	}
	rc = ss_grow(st->host, (void **)&st->profiles, &st->profiles_cap, st->nprofiles + 1,
		     sizeof(*st->profiles), SS_MAX_ENTRIES);
	if (!rc)
		rc = ss_table_reserve(st->host, &st->profile_index);
	if (rc)
		return rc;
	ss_table_insert(&st->profile_index, h, st->nprofiles);
	p = &st->profiles[st->nprofiles];
	memset(p, 0, sizeof(*p));
	p->pid = stack->pid;
	p->thread_id = stack->thread_id;
	return (int64_t)st->nprofiles++;
}

/* Record one stack as the next sample of its thread's profile. */
static int ss_add_stack(struct ss_state *st, const struct pyspy_stack *stack)
{
	uint32_t n = stack->frames ? stack->nframes : 0, leaf = SS_NONE, i, end;
	struct ss_profile *p;
	int64_t id;
	int rc;

	/* the outermost frames are kept when a stack is too deep */
	end = n > SS_MAX_DEPTH ? n - SS_MAX_DEPTH : 0;
	for (i = n; i-- > end;) {
		id = ss_frame_id(st, &stack->frames[i]);
		if (id < 0)
			return (int)id;
		id = ss_node_id(st, leaf, (uint32_t)id);
		if (id < 0)
			return (int)id;
		leaf = (uint32_t)id;
	}
	id = ss_profile_id(st, stack);
	if (id < 0)
		return (int)id;
	p = &st->profiles[id];
	rc = ss_grow(st->host, (void **)&p->samples, &p->samples_cap, p->nsamples + 1,
		     sizeof(*p->samples), SS_MAX_ENTRIES);
	if (rc)
		return rc;
	p->samples[p->nsamples++] = leaf;
	if (stack->os_thread_id)
		p->os_thread_id = stack->os_thread_id;
	if (stack->thread_name)
		p->thread_name = stack->thread_name;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t ss_utf8_len(const unsigned char *s, size_t n)
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

/* Write s as a JSON string: quotes, backslashes and control characters
 * escaped, invalid UTF-8 replaced by U+FFFD. */
static void ss_put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strnlen((const char *)p, SS_MAX_PART), i = 0, len;

	putc('"', out);
	while (i < n) {
		len = ss_utf8_len(p + i, n - i);
		if (len == 0) {
			fputs("\xef\xbf\xbd", out);
			i++;
		} else if (p[i] == '"' || p[i] == '\\') {
			putc('\\', out);
			putc(p[i++], out);
		} else if (p[i] < 0x20) {
			fprintf(out, "\\u%04x", p[i++]);
		} else {
			fwrite(p + i, 1, len, out);
			i += len;
		}
	}
	putc('"', out);
}

/* "[Process PID ]Thread TID[ \"NAME\"]" for every profile. */
static int ss_name_profiles(struct ss_state *st)
{
	int many_pids = 0;
	size_t i, n;

	for (i = 1; i < st->nprofiles; i++)
		many_pids |= st->profiles[i].pid != st->profiles[0].pid;
	for (i = 0; i < st->nprofiles; i++) {
		struct ss_profile *p = &st->profiles[i];
		char head[96];
		const char *tname = p->thread_name;

		if (many_pids)
			snprintf(head, sizeof(head), "Process %lld Thread %llu", (long long)p->pid,
				 p->os_thread_id ? (unsigned long long)p->os_thread_id
						 : (unsigned long long)p->thread_id);
		else
			snprintf(head, sizeof(head), "Thread %llu",
				 p->os_thread_id ? (unsigned long long)p->os_thread_id
						 : (unsigned long long)p->thread_id);
		n = strlen(head) + (tname ? strnlen(tname, SS_MAX_PART) + 3 : 0) + 1;
		p->name = st->host->alloc(n);
		if (!p->name)
			return -ENOMEM;
		if (tname)
			snprintf(p->name, n, "%s \"%.*s\"", head, (int)SS_MAX_PART, tname);
		else
			snprintf(p->name, n, "%s", head);
	}
	return 0;
}

static int ss_cmp_profiles(const void *a, const void *b)
{
	const struct ss_profile *pa = a, *pb = b;
	int c = strcmp(pa->name, pb->name);

	if (c)
		return c;
	if (pa->pid != pb->pid)
		return pa->pid < pb->pid ? -1 : 1;
	return pa->thread_id < pb->thread_id ? -1 : pa->thread_id > pb->thread_id;
}

static void ss_write_frames(struct ss_state *st)
{
	FILE *out = st->stream;
	size_t i;

	fputs("\"shared\":{\"frames\":[", out);
	for (i = 0; i < st->nframes; i++) {
		const struct ss_frame *f = &st->frames[i];

		if (i)
			putc(',', out);
		fputs("{\"name\":", out);
		ss_put_string(out, f->name);
		if (!f->pseudo) {
			fputs(",\"file\":", out);
			ss_put_string(out, f->file);
		}
		if (f->line)
			fprintf(out, ",\"line\":%d", (int)f->line);
		putc('}', out);
	}
	fputs("]}", out);
}

/* One sample: the frame indices of the stack ending at leaf, root first. */
static int ss_write_sample(struct ss_state *st, uint32_t leaf)
{
	size_t depth, i;
	uint32_t n;
	int rc;

	if (leaf == SS_NONE) {
		fputs("[]", st->stream);
		return 0;
	}
	depth = st->nodes[leaf].depth;
	rc = ss_grow(st->host, (void **)&st->path, &st->path_cap, depth, sizeof(*st->path),
		     SS_MAX_DEPTH + 1);
	if (rc)
		return rc;
	for (i = depth, n = leaf; i > 0 && n != SS_NONE; n = st->nodes[n].parent)
		st->path[--i] = st->nodes[n].frame;
	putc('[', st->stream);
	for (i = 0; i < depth; i++)
		fprintf(st->stream, i ? ",%u" : "%u", st->path[i]);
	putc(']', st->stream);
	return 0;
}

static int ss_write_profile(struct ss_state *st, const struct ss_profile *p)
{
	FILE *out = st->stream;
	double weight = 1.0 / st->rate;
	char w[32];
	size_t i;
	int rc;

	snprintf(w, sizeof(w), "%.9g", weight);
	fputs("{\"type\":\"sampled\",\"name\":", out);
	ss_put_string(out, p->name);
	fprintf(out, ",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":%.9g,\"samples\":[",
		(double)p->nsamples / st->rate);
	for (i = 0; i < p->nsamples; i++) {
		if (i)
			putc(',', out);
		rc = ss_write_sample(st, p->samples[i]);
		if (rc)
			return rc;
	}
	fputs("],\"weights\":[", out);
	for (i = 0; i < p->nsamples; i++) {
		if (i)
			putc(',', out);
		fputs(w, out);
	}
	fputs("]}", out);
	return 0;
}

static int ss_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		   FILE *stream, void **state, char *err, size_t errlen)
{
	struct ss_state *st;

	if (!stream) {
		snprintf(err, errlen, "speedscope: no stream to write to");
		return -EINVAL;
	}
	st = host->alloc(sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "speedscope: out of memory");
		return -ENOMEM;
	}
	st->host = host;
	st->stream = stream;
	st->show_lines = cfg->show_lines;
	/* py-spy's default rate when none (or nonsense) is given */
	st->rate = isfinite(cfg->rate) && cfg->rate > 0 ? cfg->rate : 100.0;
	*state = st;
	return 0;
}

static int ss_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct ss_state *st = state;
	uint32_t i;
	int rc;

	if (!sample->stacks)
		return 0;
	for (i = 0; i < sample->nstacks; i++) {
		rc = ss_add_stack(st, &sample->stacks[i]);
		if (rc) {
			snprintf(err, errlen, "speedscope: out of memory after %zu stack prefixes",
				 st->nnodes);
			return rc;
		}
	}
	return 0;
}

static int ss_finish(void *state, const struct pyspy_run_summary *summary,
		     char *err, size_t errlen)
{
	struct ss_state *st = state;
	FILE *out = st->stream;
	locale_t c_numeric, old_locale = (locale_t)0;
	size_t i;
	int rc;

	rc = ss_name_profiles(st);
	if (rc) {
		snprintf(err, errlen, "speedscope: out of memory");
		return rc;
	}
	/* The index is not used again: sorting may move the profiles. */
	qsort(st->profiles, st->nprofiles, sizeof(*st->profiles), ss_cmp_profiles);

	/* numbers in JSON use '.', whatever the locale of the program */
	c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_numeric)
		old_locale = uselocale(c_numeric);
	errno = 0;
	fputs("{\"$schema\":\"" SS_SCHEMA "\",", out);
	ss_write_frames(st);
	fputs(",\"profiles\":[", out);
	for (i = 0; i < st->nprofiles && !rc; i++) {
		if (i)
			putc(',', out);
		rc = ss_write_profile(st, &st->profiles[i]);
	}
	if (rc) {
		snprintf(err, errlen, "speedscope: out of memory");
		goto out_locale;
	}
	fputs("],\"name\":\"py-spy profile\",\"activeProfileIndex\":null,"
	      "\"exporter\":\"py-spy@" PYSPY_VERSION "\"}\n", out);
	if (fflush(out) == EOF || ferror(out)) {
		rc = errno > 0 ? -errno : -EIO;
		snprintf(err, errlen, "speedscope: cannot write: %s", strerror(-rc));
	}
out_locale:
	if (c_numeric) {
		uselocale(old_locale);
		freelocale(c_numeric);
	}
	return rc;
}

static void ss_close(void *state)
{
	struct ss_state *st = state;
	const struct pyspy_host *host;
	size_t i;

	if (!st)
		return;
	host = st->host;
	for (i = 0; i < st->nprofiles; i++) {
		host->free(st->profiles[i].samples);
		host->free(st->profiles[i].name);
	}
	host->free(st->profiles);
	host->free(st->profile_index.slots);
	host->free(st->frames);
	host->free(st->frame_index.slots);
	host->free(st->nodes);
	host->free(st->node_index.slots);
	host->free(st->path);
	host->free(st);
}

static const struct pyspy_output_ops ss_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_RECORD,
	.format = "speedscope",
	.aliases = NULL,
	.extension = "json",
	.to_stdout = 0,
	.open = ss_open,
	.sample = ss_sample,
	.finish = ss_finish,
	.close = ss_close,
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "speedscope",
	.summary = "speedscope JSON: one sampled profile per thread",
	.ops = &ss_ops,
};
