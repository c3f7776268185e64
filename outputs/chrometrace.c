/*
 * chrometrace: py-spy record's Chrome trace event JSON, for Perfetto,
 * chrome://tracing and speedscope (the "JSON Array Format" of Google's
 * Trace Event Format document).
 *
 *   [{"name":"thread_name","ph":"M","pid":P,"tid":T,"args":{"name":"TID: NAME"}},
 *    {"name":FUNC,"cat":"py-spy","ph":"B","pid":P,"tid":T,"ts":US,
 *     "args":{"filename":FILE,"line":N}},
 *    {... "ph":"E" ...}, ...]
 *
 * One track per thread (keyed by pid and interpreter thread id), named by a
 * thread_name metadata event: the kernel thread id when known (else the
 * interpreter's) and the thread's last name.  T is the thread's index in
 * the order threads were first seen: Perfetto takes 32-bit thread ids only.
 *
 * Each stack is a nest of B (begin) and E (end) events: a frame that a
 * thread's next sample still has at the same place, below the same frames,
 * stays open, so consecutive identical frames merge into one slice.  A
 * frame ends at the time of the first sample that no longer has it, or of
 * the first sample that does not have the thread at all (idle, filtered
 * out, or gone); frames still open at the end last one sampling interval
 * past the last sample.  ts is in microseconds since recording started.
 * "line" is left out when unknown or line numbers are off; pseudo frames
 * (thread, process) have no args.
 *
 * Memory: a sample costs nothing unless the thread's stack changed; then
 * one (time, trie leaf) entry.  Everything is written in finish.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pyspy/output.h>

#include "common/common.h"

/* From this time on the thread's stack is the one ending at leaf. */
struct ct_entry {
	uint64_t time_ns;
	uint32_t leaf;           /* OUTC_NONE: no frame (not sampled) */
	uint32_t reserved;
};

struct ct_thread {
	struct outc_thread t;    /* first: which thread, its last name */
	uint64_t seen;           /* the sample that last had this thread */
	struct ct_entry *entries;
	size_t nentries, entries_cap;
	uint32_t open;           /* in the open list: its last entry has frames */
	uint32_t reserved;
};

struct ct_state {
	struct outc_record rec;  /* first: host, stream, stacks */
	uint64_t interval_ns;    /* 1/rate */
	uint64_t now_ns;         /* time of the sample being added */
	uint64_t seq;            /* samples so far */

	struct ct_thread *threads;
	size_t nthreads, threads_cap;
	struct outc_table thread_index;

	uint32_t *open;          /* threads whose last entry has frames */
	size_t nopen, open_cap;

	uint32_t *path;          /* scratch: the frames a stack begins */
	size_t path_cap;
	struct outc_buf label;   /* scratch: a track's name */
	uint64_t nwritten;       /* events written so far */
};

/* The thread's stack is the one ending at leaf from now on. */
static int ct_set_leaf(struct ct_state *st, struct ct_thread *t, uint32_t leaf)
{
	int rc;

	if (t->nentries && t->entries[t->nentries - 1].leaf == leaf)
		return 0;
	if (!t->nentries && leaf == OUTC_NONE)
		return 0;
	rc = outc_grow(st->rec.host, (void **)&t->entries, &t->entries_cap, t->nentries + 1,
		       sizeof(*t->entries), OUTC_MAX_ENTRIES);
	if (rc)
		return rc;
	t->entries[t->nentries].time_ns = st->now_ns;
	t->entries[t->nentries].leaf = leaf;
	t->nentries++;
	return 0;
}

static int ct_add_stack(void *state, const struct pyspy_stack *stack)
{
	struct ct_state *st = state;
	struct ct_thread *t;
	uint32_t leaf;
	int64_t id;
	int rc;

	rc = outc_stacks_add(&st->rec.stacks, stack, &leaf);
	if (rc)
		return rc;
	id = outc_thread_of(st->rec.host, &st->thread_index, (void **)&st->threads,
			    &st->nthreads, &st->threads_cap, sizeof(*st->threads), stack);
	if (id < 0)
		return (int)id;
	t = &st->threads[id];
	t->seen = st->seq;
	rc = ct_set_leaf(st, t, leaf);
	if (rc || leaf == OUTC_NONE || t->open)
		return rc;
	rc = outc_grow(st->rec.host, (void **)&st->open, &st->open_cap, st->nopen + 1,
		       sizeof(*st->open), OUTC_MAX_ENTRIES);
	if (rc)
		return rc;
	st->open[st->nopen++] = (uint32_t)id;
	t->open = 1;
	return 0;
}

/* Threads with frames open that this sample did not have (or had with no
 * frame) end them now. */
static int ct_close_missing(struct ct_state *st)
{
	size_t i = 0;
	int rc;

	while (i < st->nopen) {
		struct ct_thread *t = &st->threads[st->open[i]];

		if (t->seen != st->seq) {
			rc = ct_set_leaf(st, t, OUTC_NONE);
			if (rc)
				return rc;
		}
		if (t->entries[t->nentries - 1].leaf != OUTC_NONE) {
			i++;
			continue;
		}
		t->open = 0;
		st->open[i] = st->open[--st->nopen];
	}
	return 0;
}

/* --- writing ---------------------------------------------------------- */

static void ct_put_time(FILE *out, uint64_t ns)
{
	fprintf(out, "%llu.%03u", (unsigned long long)(ns / 1000), (unsigned)(ns % 1000));
}

/* One B or E event of the frame of trie node `node` on track tid. */
static void ct_put_event(struct ct_state *st, const struct ct_thread *t, uint32_t tid,
			 uint32_t node, char phase, uint64_t ns)
{
	const struct outc_frame *f = &st->rec.stacks.frames[st->rec.stacks.nodes[node].frame];
	FILE *out = st->rec.stream;

	fputs(st->nwritten++ ? ",\n{\"name\":" : "[\n{\"name\":", out);
	outc_put_json(out, f->name);
	fprintf(out, ",\"cat\":\"py-spy\",\"ph\":\"%c\",\"pid\":%lld,\"tid\":%u,\"ts\":", phase,
		(long long)t->t.pid, tid);
	ct_put_time(out, ns);
	fputs(",\"args\":{", out);
	if (!f->pseudo) {
		fputs("\"filename\":", out);
		outc_put_json(out, f->file);
		if (f->line > 0)
			fprintf(out, ",\"line\":%d", (int)f->line);
	}
	fputs("}}", out);
}

/* The frames of from that to does not share end at ns (innermost first),
 * then those of to that from did not have begin (outermost first). */
static int ct_put_change(struct ct_state *st, const struct ct_thread *t, uint32_t tid,
			 uint32_t from, uint32_t to, uint64_t ns)
{
	const struct outc_node *nodes = st->rec.stacks.nodes;
	uint32_t a = from, b = to;
	size_t n = 0;
	int rc;

	/* the deepest node both stacks have (OUTC_NONE: none) */
	while (a != b) {
		uint32_t da = a == OUTC_NONE ? 0 : nodes[a].depth;
		uint32_t db = b == OUTC_NONE ? 0 : nodes[b].depth;

		if (da >= db)
			a = nodes[a].parent;
		if (db >= da)
			b = nodes[b].parent;
	}
	for (b = from; b != a; b = nodes[b].parent)
		ct_put_event(st, t, tid, b, 'E', ns);
	for (b = to; b != a; b = nodes[b].parent) {
		rc = outc_grow(st->rec.host, (void **)&st->path, &st->path_cap, n + 1,
			       sizeof(*st->path), OUTC_MAX_DEPTH + 1);
		if (rc)
			return rc;
		st->path[n++] = b;
	}
	while (n > 0)
		ct_put_event(st, t, tid, st->path[--n], 'B', ns);
	return 0;
}

static int ct_put_thread(struct ct_state *st, const struct ct_thread *t, uint32_t tid,
			 uint64_t end_ns)
{
	const struct pyspy_host *host = st->rec.host;
	FILE *out = st->rec.stream;
	uint32_t leaf = OUTC_NONE;
	char head[48];
	size_t i;
	int rc;

	/* "TID: NAME" as py-spy names a track, or "TID" */
	snprintf(head, sizeof(head), t->t.name ? "%llu: " : "%llu",
		 t->t.os_thread_id ? (unsigned long long)t->t.os_thread_id
				   : (unsigned long long)t->t.thread_id);
	st->label.len = 0;
	rc = outc_buf_put(host, &st->label, head, strlen(head));
	if (!rc && t->t.name)
		rc = outc_buf_put(host, &st->label, t->t.name, strnlen(t->t.name, OUTC_MAX_PART));
	if (rc)
		return rc;
	fputs(st->nwritten++ ? ",\n" : "[\n", out);
	fprintf(out, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%lld,\"tid\":%u,"
		"\"args\":{\"name\":", (long long)t->t.pid, tid);
	outc_put_json(out, st->label.p);
	fputs("}}", out);
	for (i = 0; i < t->nentries; i++) {
		rc = ct_put_change(st, t, tid, leaf, t->entries[i].leaf, t->entries[i].time_ns);
		if (rc)
			return rc;
		leaf = t->entries[i].leaf;
	}
	return ct_put_change(st, t, tid, leaf, OUTC_NONE, end_ns);
}

/* --- the module ------------------------------------------------------- */

static int ct_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		   FILE *stream, void **state, char *err, size_t errlen)
{
	struct ct_state *st;
	double rate;
	int rc;

	rc = outc_record_open(host, cfg, stream, sizeof(*st), "chrometrace", (void **)&st,
			      err, errlen);
	if (rc)
		return rc;
	st->rec.stacks.full_filenames = 1; /* args.filename is the full name */
	rate = isfinite(cfg->rate) && cfg->rate >= 1e-3 ? cfg->rate : 100.0;
	st->interval_ns = (uint64_t)llround(1e9 / rate);
	*state = st;
	return 0;
}

static int ct_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct ct_state *st = state;
	struct pyspy_sample smp;
	int rc;

	pyspy_copy_elem(&smp, sizeof(smp), sample, 0, sample->size);
	st->seq++;
	st->now_ns = smp.time_ns;
	rc = outc_record_sample(&st->rec, sample, ct_add_stack, err, errlen);
	if (!rc && ct_close_missing(st)) {
		snprintf(err, errlen, "chrometrace: out of memory after %zu stack prefixes",
			 st->rec.stacks.nnodes);
		rc = -ENOMEM;
	}
	return rc;
}

static int ct_finish(void *state, const struct pyspy_run_summary *summary,
		     char *err, size_t errlen)
{
	struct ct_state *st = state;
	FILE *out = st->rec.stream;
	uint64_t end_ns = st->now_ns + st->interval_ns;
	size_t i;
	int rc = 0;

	errno = 0;
	for (i = 0; i < st->nthreads && !rc; i++)
		rc = ct_put_thread(st, &st->threads[i], (uint32_t)i, end_ns);
	if (rc) {
		snprintf(err, errlen, "chrometrace: out of memory");
		return rc;
	}
	fputs(st->nwritten ? "\n]\n" : "[]\n", out);
	if (fflush(out) == EOF || ferror(out)) {
		rc = errno > 0 ? -errno : -EIO;
		snprintf(err, errlen, "chrometrace: cannot write: %s", strerror(-rc));
	}
	return rc;
}

static void ct_close(void *state)
{
	struct ct_state *st = state;
	const struct pyspy_host *host;
	size_t i;

	if (!st)
		return;
	host = st->rec.host;
	for (i = 0; i < st->nthreads; i++)
		host->free(st->threads[i].entries);
	host->free(st->threads);
	host->free(st->thread_index.slots);
	host->free(st->open);
	host->free(st->path);
	host->free(st->label.p);
	outc_record_free(&st->rec);
	host->free(st);
}

static const struct pyspy_output_ops ct_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_RECORD,
	.format = "chrometrace",
	.aliases = NULL,
	.extension = "trace.json",
	.to_stdout = 0,
	.open = ct_open,
	.sample = ct_sample,
	.finish = ct_finish,
	.close = ct_close,
	.written = "chrome trace",
	.extensions = "trace.json",
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "chrometrace",
	.summary = "Chrome trace events: one named track per thread, B/E slices per frame",
	.ops = &ct_ops,
};
