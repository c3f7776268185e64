/*
 * The stack trie of the record outputs: distinct frames, identified by the
 * core's interned string pointers, and stack prefixes keyed by (parent
 * node, frame), so a stack seen before costs hash look-ups and no string
 * work.  And the part of their state they all have (struct outc_record).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

struct outc_frame_key {
	const struct outc_frame *frames;
	struct outc_frame f;
};

static int outc_same_frame(const void *arg, size_t idx)
{
	const struct outc_frame_key *k = arg;
	const struct outc_frame *e = &k->frames[idx];

	return e->name == k->f.name && e->file == k->f.file && e->line == k->f.line &&
	       e->pseudo == k->f.pseudo;
}

/* The frame of f's identity, added if new; returns its index or -errno. */
static int64_t outc_frame_id(struct outc_stacks *s, const struct pyspy_frame *f)
{
	struct outc_frame_key k = { s->frames, { 0 } };
	struct outc_frame *key = &k.f;
	uint64_t h;
	int64_t id;
	int rc;

	key->name = f->name ? f->name : "";
	key->pseudo = !!(f->flags & (PYSPY_FRAME_THREAD | PYSPY_FRAME_PROCESS | PYSPY_FRAME_OMITTED));
	if (!key->pseudo) {
		key->file = s->full_filenames ? f->filename : f->short_filename;
		if (!key->file)
			key->file = "";
		key->line = s->show_lines ? f->line : 0;
	}
	h = outc_mix((uintptr_t)key->name ^ outc_mix((uintptr_t)key->file) ^
		     outc_mix(((uint64_t)(uint32_t)key->line << 1) | key->pseudo));
	id = outc_table_find(&s->frame_index, h, outc_same_frame, &k);
	if (id >= 0)
		return id;
	rc = outc_grow(s->host, (void **)&s->frames, &s->frames_cap, s->nframes + 1,
		       sizeof(*s->frames), OUTC_MAX_ENTRIES);
	if (!rc)
		rc = outc_table_reserve(s->host, &s->frame_index);
	if (rc)
		return rc;
	outc_table_insert(&s->frame_index, h, s->nframes);
	s->frames[s->nframes] = *key;
	s->frames[s->nframes].first_line = f->first_line > 0 ? f->first_line : 0;
	return (int64_t)s->nframes++;
}

struct outc_node_key {
	const struct outc_node *nodes;
	uint32_t parent, frame;
};

static int outc_same_node(const void *arg, size_t idx)
{
	const struct outc_node_key *k = arg;

	return k->nodes[idx].parent == k->parent && k->nodes[idx].frame == k->frame;
}

/* The child of parent for frame, added if new; returns its index or -errno. */
static int64_t outc_node_id(struct outc_stacks *s, uint32_t parent, uint32_t frame)
{
	struct outc_node_key key = { s->nodes, parent, frame };
	uint64_t h = outc_mix(((uint64_t)parent << 32) | frame);
	struct outc_node *n;
	int64_t id;
	int rc;

	id = outc_table_find(&s->node_index, h, outc_same_node, &key);
	if (id >= 0)
		return id;
	rc = outc_grow(s->host, (void **)&s->nodes, &s->nodes_cap, s->nnodes + 1,
		       sizeof(*s->nodes), OUTC_MAX_ENTRIES);
	if (!rc)
		rc = outc_table_reserve(s->host, &s->node_index);
	if (rc)
		return rc;
	outc_table_insert(&s->node_index, h, s->nnodes);
	n = &s->nodes[s->nnodes];
	memset(n, 0, sizeof(*n));
	n->parent = parent;
	n->frame = frame;
	n->depth = parent == OUTC_NONE ? 1 : s->nodes[parent].depth + 1;
	return (int64_t)s->nnodes++;
}

/* The memo of thread_id, or the least recently used one, emptied. */
static struct outc_memo *outc_memo_of(struct outc_stacks *s, uint64_t thread_id)
{
	struct outc_memo *m = &s->memo[0];
	size_t i;

	for (i = 0; i < OUTC_MEMOS; i++) {
		if (s->memo[i].used && s->memo[i].thread_id == thread_id) {
			m = &s->memo[i];
			break;
		}
		if (s->memo[i].used < m->used)
			m = &s->memo[i];
	}
	if (i == OUTC_MEMOS) {
		m->thread_id = thread_id;
		m->n = 0;
	}
	m->used = ++s->memo_clock;
	return m;
}

static int outc_same_input(const struct pyspy_frame *a, const struct pyspy_frame *b)
{
	return a->name == b->name && a->filename == b->filename &&
	       a->short_filename == b->short_filename && a->line == b->line && a->flags == b->flags;
}

int outc_stacks_add(struct outc_stacks *s, const struct pyspy_stack *stack, uint32_t *leaf)
{
	uint32_t n = stack->frames ? stack->nframes : 0, i, end;
	struct outc_memo *m = outc_memo_of(s, stack->thread_id);
	struct pyspy_frame local;
	const struct pyspy_frame *fr;
	size_t d = 0;
	int64_t id;

	*leaf = OUTC_NONE;
	/* the outermost frames are kept when a stack is too deep */
	end = n > OUTC_MAX_DEPTH ? n - OUTC_MAX_DEPTH : 0;
	i = n;
	while (i > end && d < m->n && outc_same_input(&m->frames[d], outc_frame(stack, i - 1, &local))) {
		*leaf = m->nodes[d++];
		i--;
	}
	m->n = d;
	for (; i-- > end; d++) {
		fr = outc_frame(stack, i, &local);
		id = outc_frame_id(s, fr);
		if (id < 0)
			return (int)id;
		id = outc_node_id(s, *leaf, (uint32_t)id);
		if (id < 0)
			return (int)id;
		*leaf = (uint32_t)id;
		if (m->n == d &&
		    outc_grow(s->host, (void **)&m->frames, &m->frames_cap, d + 1, sizeof(*m->frames),
			      OUTC_MAX_DEPTH) == 0 &&
		    outc_grow(s->host, (void **)&m->nodes, &m->nodes_cap, d + 1, sizeof(*m->nodes),
			      OUTC_MAX_DEPTH) == 0) {
			m->frames[d] = *fr;
			m->nodes[d] = *leaf;
			m->n = d + 1;
		}
	}
	return 0;
}

void outc_stacks_free(struct outc_stacks *s)
{
	const struct pyspy_host *host = s->host;
	size_t i;

	host->free(s->frames);
	host->free(s->frame_index.slots);
	host->free(s->nodes);
	host->free(s->node_index.slots);
	for (i = 0; i < OUTC_MEMOS; i++) {
		host->free(s->memo[i].frames);
		host->free(s->memo[i].nodes);
	}
}

int outc_record_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		     FILE *stream, size_t size, const char *module, void **state,
		     char *err, size_t errlen)
{
	struct outc_record *r;

	if (!stream) {
		snprintf(err, errlen, "%s: no stream to write to", module);
		return -EINVAL;
	}
	r = host->alloc(size);
	if (!r) {
		snprintf(err, errlen, "%s: out of memory", module);
		return -ENOMEM;
	}
	r->host = host;
	r->stream = stream;
	r->module = module;
	r->stacks.host = host;
	r->stacks.show_lines = cfg->show_lines;
	r->stacks.full_filenames = cfg->full_filenames;
	*state = r;
	return 0;
}

int outc_record_sample(struct outc_record *r, const struct pyspy_sample *sample,
		       int (*add)(void *state, const struct pyspy_stack *stack),
		       char *err, size_t errlen)
{
	struct pyspy_sample smp;
	struct pyspy_stack local;
	uint32_t i;
	int rc;

	pyspy_copy_elem(&smp, sizeof(smp), sample, 0, sample->size);
	if (!smp.stacks)
		return 0;
	for (i = 0; i < smp.nstacks; i++) {
		rc = add(r, outc_stack(&smp, i, &local));
		if (rc) {
			snprintf(err, errlen, "%s: out of memory after %zu stack prefixes",
				 r->module, r->stacks.nnodes);
			return rc;
		}
	}
	return 0;
}

void outc_record_free(struct outc_record *r)
{
	outc_stacks_free(&r->stacks);
}

int outc_keep_stack(const struct pyspy_stack *s, int keep_idle, int gil_only)
{
	return (keep_idle || s->active) && (!gil_only || s->owns_gil);
}
