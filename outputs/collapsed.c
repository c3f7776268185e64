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

#include "common/common.h"

struct coll_state {
	struct outc_record rec;   /* first: host, stream, stacks */
	uint32_t *label_at;         /* per frame: its label in labels (finish) */
	uint32_t *path;             /* scratch: one stack's node path */
	size_t path_cap;
	struct outc_buf labels;
};

/* Count one stack on the node where it ends. */
static int coll_add_stack(void *state, const struct pyspy_stack *stack)
{
	struct coll_state *st = state;
	uint32_t leaf;
	int rc;

	rc = outc_stacks_add(&st->rec.stacks, stack, &leaf);
	if (rc)
		return rc;
	if (leaf != OUTC_NONE)
		st->rec.stacks.nodes[leaf].count++;
	return 0;
}

/* Every frame's label, ';' made ':' so that it only separates frames. */
static int coll_make_labels(struct coll_state *st)
{
	size_t i, n = st->rec.stacks.nframes;
	int rc = 0;

	if (!n)
		return 0;
	st->label_at = st->rec.host->alloc(n * sizeof(*st->label_at));
	if (!st->label_at)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++)
		rc = outc_put_label(st->rec.host, &st->labels, &st->rec.stacks.frames[i],
				    OUTC_ESC_COLLAPSED, &st->label_at[i]);
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
	const struct outc_node *nodes = st->rec.stacks.nodes;
	size_t depth = 0, i;
	uint32_t n;
	int rc;

	for (n = node; n != OUTC_NONE; n = nodes[n].parent) {
		rc = outc_grow(st->rec.host, (void **)&st->path, &st->path_cap, depth + 1,
			       sizeof(*st->path), OUTC_MAX_DEPTH + 1);
		if (rc)
			return rc;
		st->path[depth++] = n;
	}
	for (i = depth; i-- > 0;) {
		uint32_t frame = nodes[st->path[i]].frame;

		if (fputs(st->labels.p + st->label_at[frame], st->rec.stream) == EOF)
			return coll_write_error();
		if (i && putc(';', st->rec.stream) == EOF)
			return coll_write_error();
	}
	if (fprintf(st->rec.stream, " %llu\n", (unsigned long long)nodes[node].count) < 0)
		return coll_write_error();
	return 0;
}

static int coll_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		     FILE *stream, void **state, char *err, size_t errlen)
{
	return outc_record_open(host, cfg, stream, sizeof(struct coll_state), "collapsed",
				state, err, errlen);
}

static int coll_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct coll_state *st = state;

	return outc_record_sample(&st->rec, sample, coll_add_stack, err, errlen);
}

static int coll_finish(void *state, const struct pyspy_run_summary *summary,
		       char *err, size_t errlen)
{
	struct coll_state *st = state;
	size_t i;
	int rc = 0;

	rc = coll_make_labels(st);
	if (rc) {
		snprintf(err, errlen, "collapsed: out of memory");
		return rc;
	}
	errno = 0;
	for (i = 0; i < st->rec.stacks.nnodes && !rc; i++) {
		if (st->rec.stacks.nodes[i].count)
			rc = coll_write_line(st, (uint32_t)i);
	}
	if (!rc && fflush(st->rec.stream) == EOF)
		rc = coll_write_error();
	if (!rc && ferror(st->rec.stream))
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
	host = st->rec.host;
	outc_record_free(&st->rec);
	host->free(st->label_at);
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
	.written = "raw flamegraph data",
	.extensions = "txt",
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "collapsed",
	.summary = "folded stacks, one line per unique stack (flamegraph.pl input)",
	.ops = &coll_ops,
};
