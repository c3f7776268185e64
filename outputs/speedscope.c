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

#include "common/common.h"

#ifndef PYSPY_VERSION
#define PYSPY_VERSION "unknown"
#endif

#define SS_SCHEMA "https://www.speedscope.app/file-format-schema.json"
#define SS_MAX_ENTRIES OUTC_MAX_ENTRIES /* profiles, samples of one */

struct ss_profile {
	struct outc_thread t;  /* first: which thread */
	uint32_t *samples; /* trie leaf per sample; OUTC_NONE: empty stack */
	size_t nsamples, samples_cap;
	char *name;        /* built in finish */
};

struct ss_state {
	struct outc_record rec;   /* first: host, stream, stacks */
	double rate;

	struct ss_profile *profiles;
	size_t nprofiles, profiles_cap;
	struct outc_table profile_index;

	uint32_t *path;   /* scratch: one stack's frames */
	size_t path_cap;
};

/* Record one stack as the next sample of its thread's profile. */
static int ss_add_stack(void *state, const struct pyspy_stack *stack)
{
	struct ss_state *st = state;
	struct ss_profile *p;
	uint32_t leaf;
	int64_t id;
	int rc;

	rc = outc_stacks_add(&st->rec.stacks, stack, &leaf);
	if (rc)
		return rc;
	id = outc_thread_of(st->rec.host, &st->profile_index, (void **)&st->profiles,
			    &st->nprofiles, &st->profiles_cap, sizeof(*st->profiles), stack);
	if (id < 0)
		return (int)id;
	p = &st->profiles[id];
	rc = outc_grow(st->rec.host, (void **)&p->samples, &p->samples_cap, p->nsamples + 1,
		     sizeof(*p->samples), SS_MAX_ENTRIES);
	if (rc)
		return rc;
	p->samples[p->nsamples++] = leaf;
	return 0;
}

/* "[Process PID ]Thread TID[ \"NAME\"]" for every profile. */
static int ss_name_profiles(struct ss_state *st)
{
	int many_pids = 0;
	size_t i, n;

	for (i = 1; i < st->nprofiles; i++)
		many_pids |= st->profiles[i].t.pid != st->profiles[0].t.pid;
	for (i = 0; i < st->nprofiles; i++) {
		struct ss_profile *p = &st->profiles[i];
		char head[96];
		const char *tname = p->t.name;

		if (many_pids)
			snprintf(head, sizeof(head), "Process %lld Thread %llu", (long long)p->t.pid,
				 p->t.os_thread_id ? (unsigned long long)p->t.os_thread_id
						   : (unsigned long long)p->t.thread_id);
		else
			snprintf(head, sizeof(head), "Thread %llu",
				 p->t.os_thread_id ? (unsigned long long)p->t.os_thread_id
						   : (unsigned long long)p->t.thread_id);
		n = strlen(head) + (tname ? strnlen(tname, OUTC_MAX_PART) + 3 : 0) + 1;
		p->name = st->rec.host->alloc(n);
		if (!p->name)
			return -ENOMEM;
		if (tname)
			snprintf(p->name, n, "%s \"%.*s\"", head, (int)OUTC_MAX_PART, tname);
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
	if (pa->t.pid != pb->t.pid)
		return pa->t.pid < pb->t.pid ? -1 : 1;
	return pa->t.thread_id < pb->t.thread_id ? -1 : pa->t.thread_id > pb->t.thread_id;
}

static void ss_write_frames(struct ss_state *st)
{
	FILE *out = st->rec.stream;
	size_t i;

	fputs("\"shared\":{\"frames\":[", out);
	for (i = 0; i < st->rec.stacks.nframes; i++) {
		const struct outc_frame *f = &st->rec.stacks.frames[i];

		if (i)
			putc(',', out);
		fputs("{\"name\":", out);
		outc_put_json(out, f->name);
		if (!f->pseudo) {
			fputs(",\"file\":", out);
			outc_put_json(out, f->file);
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
	const struct outc_node *nodes = st->rec.stacks.nodes;
	size_t depth, i;
	uint32_t n;
	int rc;

	if (leaf == OUTC_NONE) {
		fputs("[]", st->rec.stream);
		return 0;
	}
	depth = nodes[leaf].depth;
	rc = outc_grow(st->rec.host, (void **)&st->path, &st->path_cap, depth, sizeof(*st->path),
		       OUTC_MAX_DEPTH + 1);
	if (rc)
		return rc;
	for (i = depth, n = leaf; i > 0 && n != OUTC_NONE; n = nodes[n].parent)
		st->path[--i] = nodes[n].frame;
	putc('[', st->rec.stream);
	for (i = 0; i < depth; i++)
		fprintf(st->rec.stream, i ? ",%u" : "%u", st->path[i]);
	putc(']', st->rec.stream);
	return 0;
}

static int ss_write_profile(struct ss_state *st, const struct ss_profile *p)
{
	FILE *out = st->rec.stream;
	double weight = 1.0 / st->rate;
	char w[32];
	size_t i;
	int rc;

	snprintf(w, sizeof(w), "%.9g", weight);
	fputs("{\"type\":\"sampled\",\"name\":", out);
	outc_put_json(out, p->name);
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
	int rc;

	rc = outc_record_open(host, cfg, stream, sizeof(*st), "speedscope", (void **)&st,
			      err, errlen);
	if (rc)
		return rc;
	st->rec.stacks.full_filenames = 1; /* the schema's file is the full name */
	/* py-spy's default rate when none (or nonsense) is given */
	st->rate = isfinite(cfg->rate) && cfg->rate > 0 ? cfg->rate : 100.0;
	*state = st;
	return 0;
}

static int ss_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct ss_state *st = state;

	return outc_record_sample(&st->rec, sample, ss_add_stack, err, errlen);
}

static int ss_finish(void *state, const struct pyspy_run_summary *summary,
		     char *err, size_t errlen)
{
	struct ss_state *st = state;
	FILE *out = st->rec.stream;
	locale_t c_numeric, old_locale = (locale_t)0;
	size_t i;
	int rc;

	rc = ss_name_profiles(st);
	if (rc) {
		snprintf(err, errlen, "speedscope: out of memory");
		return rc;
	}
	/* The index is not used again: sorting may move the profiles. */
	if (st->nprofiles > 1)  /* no samples: profiles is NULL, qsort wants an array */
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
	host = st->rec.host;
	for (i = 0; i < st->nprofiles; i++) {
		host->free(st->profiles[i].samples);
		host->free(st->profiles[i].name);
	}
	host->free(st->profiles);
	host->free(st->profile_index.slots);
	outc_record_free(&st->rec);
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
	.written = "speedscope file",
	.extensions = "json",
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "speedscope",
	.summary = "speedscope JSON: one sampled profile per thread",
	.ops = &ss_ops,
};
