/*
 * pprof: py-spy record's profile in Google's profile.proto, gzipped, as
 * `go tool pprof`, Grafana Pyroscope, Parca and speedscope read it
 * (https://github.com/google/pprof/blob/main/proto/profile.proto).
 *
 *   sample_type   [samples/count, cpu/nanoseconds]   (wall with --idle: idle
 *                 threads were recorded too, so the time is not CPU time)
 *   period_type   cpu/nanoseconds (or wall), period 1e9/rate
 *   time_nanos    wall clock when recording started; duration_nanos
 *   sample        one per distinct (stack, thread as named then): location
 *                 ids leaf first, values [count, count * period], and three
 *                 string labels: pid, thread_id (the kernel's when known)
 *                 and thread_name (when known)
 *   location      one per distinct frame (function and line); id = index + 1
 *   function      one per distinct (name, file); start_line when the core
 *                 knows the function's first line (pyspy_frame.first_line).
 *                 No system_name: pprof "demangles" a system_name equal to
 *                 the name as C++, and "<module>" would lose its name.
 *   string_table  every string once, "" first
 *   comment       py-spy's command line
 *
 * Labels are strings, the kind Pyroscope's ingestion splits profiles by;
 * pprof's -tagfocus and -tags read both kinds.  Label keys follow the
 * Prometheus rule ([a-zA-Z_][a-zA-Z0-9_]*) that Pyroscope enforces.
 *
 * The encoder is our own: the part of the protobuf wire format a profile
 * needs is varints and length-delimited fields (below, ~60 lines), and one
 * more library (protobuf-c with generated code) would not make it shorter.
 * The message is built top-level field by top-level field and handed to
 * zlib's gzip stream as it grows, so memory stays that of the profile's
 * tables, not of its encoding.
 *
 * Names and files are made valid UTF-8 (protobuf strings must be) by
 * outputs/common's escaper, label policy: control characters as '?', at
 * most OUTC_MAX_PART bytes each.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include <pyspy/output.h>

#include "common/common.h"

#define PP_MAX_STRINGS OUTC_MAX_ENTRIES
#define PP_CHUNK (64u * 1024u)   /* encoded bytes handed to zlib at a time */

/* The thread of a sample as it was then: its labels. */
struct pp_thread {
	int64_t pid;
	uint64_t thread_id;
	int64_t os_thread_id;
	const char *name;        /* the core's interned string, or NULL */
};

/* How often one stack was seen on one thread. */
struct pp_sample {
	uint32_t leaf;           /* trie node where the stack ends */
	uint32_t thread;         /* index into threads */
	uint64_t count;
};

/* A distinct (name, file) pair of string indices. */
struct pp_function {
	uint32_t name, file;
	int32_t start_line;      /* of the first frame seen; 0: unknown */
};

/* A string of the string table: len bytes at strbuf.p + at. */
struct pp_string {
	uint32_t at, len;
};

struct pp_state {
	struct outc_record rec;  /* first: host, stream, stacks */
	double rate;
	int idle;
	int64_t start_wall_ns;
	uint64_t last_time_ns;
	uint32_t comment;        /* string index of py-spy's command line, or 0 */

	struct pp_thread *threads;
	size_t nthreads, threads_cap;
	struct outc_table thread_index;

	struct pp_sample *samples;
	size_t nsamples, samples_cap;
	struct outc_table sample_index;

	/* built in finish */
	struct outc_buf strbuf;
	struct pp_string *strings;
	size_t nstrings, strings_cap;
	struct outc_table string_index;
	struct pp_function *functions;
	size_t nfunctions, functions_cap;
	struct outc_table function_index;
	uint32_t *location_function; /* per trie frame: its function index */

	/* encoding: the pending top-level bytes, and two nesting levels */
	struct outc_buf top, msg, sub;
	z_stream z;
	int z_open;
};

/* --- labels and samples, while recording ------------------------------ */

struct pp_thread_key {
	const struct pp_thread *threads;
	struct pp_thread t;
};

static int pp_same_thread(const void *arg, size_t idx)
{
	const struct pp_thread_key *k = arg;
	const struct pp_thread *e = &k->threads[idx];

	return e->pid == k->t.pid && e->thread_id == k->t.thread_id &&
	       e->os_thread_id == k->t.os_thread_id && e->name == k->t.name;
}

/* The index of the stack's thread with its labels as they are now. */
static int64_t pp_thread_id(struct pp_state *st, const struct pyspy_stack *stack)
{
	struct pp_thread_key k = { st->threads, { stack->pid, stack->thread_id,
						  stack->os_thread_id, stack->thread_name } };
	uint64_t h = outc_mix((uint64_t)stack->pid ^ outc_mix(stack->thread_id) ^
			      outc_mix((uint64_t)stack->os_thread_id ^ (uintptr_t)stack->thread_name));
	int64_t id;
	int rc;

	id = outc_table_find(&st->thread_index, h, pp_same_thread, &k);
	if (id >= 0)
		return id;
	rc = outc_grow(st->rec.host, (void **)&st->threads, &st->threads_cap, st->nthreads + 1,
		       sizeof(*st->threads), OUTC_MAX_ENTRIES);
	if (!rc)
		rc = outc_table_reserve(st->rec.host, &st->thread_index);
	if (rc)
		return rc;
	outc_table_insert(&st->thread_index, h, st->nthreads);
	st->threads[st->nthreads] = k.t;
	return (int64_t)st->nthreads++;
}

struct pp_sample_key {
	const struct pp_sample *samples;
	uint32_t leaf, thread;
};

static int pp_same_sample(const void *arg, size_t idx)
{
	const struct pp_sample_key *k = arg;

	return k->samples[idx].leaf == k->leaf && k->samples[idx].thread == k->thread;
}

/* Count one stack under (its trie leaf, its thread's labels). */
static int pp_add_stack(void *state, const struct pyspy_stack *stack)
{
	struct pp_state *st = state;
	struct pp_sample_key k = { st->samples, 0, 0 };
	uint32_t leaf;
	int64_t id;
	uint64_t h;
	int rc;

	rc = outc_stacks_add(&st->rec.stacks, stack, &leaf);
	if (rc)
		return rc;
	if (leaf == OUTC_NONE)
		return 0;        /* no frame: nothing to attribute the time to */
	id = pp_thread_id(st, stack);
	if (id < 0)
		return (int)id;
	k.leaf = leaf;
	k.thread = (uint32_t)id;
	h = outc_mix(((uint64_t)leaf << 32) | k.thread);
	id = outc_table_find(&st->sample_index, h, pp_same_sample, &k);
	if (id < 0) {
		rc = outc_grow(st->rec.host, (void **)&st->samples, &st->samples_cap,
			       st->nsamples + 1, sizeof(*st->samples), OUTC_MAX_ENTRIES);
		if (!rc)
			rc = outc_table_reserve(st->rec.host, &st->sample_index);
		if (rc)
			return rc;
		outc_table_insert(&st->sample_index, h, st->nsamples);
		id = (int64_t)st->nsamples++;
		st->samples[id].leaf = leaf;
		st->samples[id].thread = k.thread;
		st->samples[id].count = 0;
	}
	st->samples[id].count++;
	return 0;
}

/* --- the string table ------------------------------------------------- */

struct pp_string_key {
	const struct pp_state *st;
	const char *s;
	size_t len;
};

static int pp_same_string(const void *arg, size_t idx)
{
	const struct pp_string_key *k = arg;
	const struct pp_string *e = &k->st->strings[idx];

	return e->len == k->len && memcmp(k->st->strbuf.p + e->at, k->s, k->len) == 0;
}

static uint64_t pp_hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return outc_mix(h);
}

/*
 * The string table index of s made safe, added if new.  The safe form is
 * appended to strbuf first and dropped again when it is already there.
 */
static int64_t pp_string(struct pp_state *st, const char *s)
{
	const struct pyspy_host *host = st->rec.host;
	struct pp_string_key k = { st, NULL, 0 };
	size_t at = st->strbuf.len;
	uint64_t h;
	int64_t id;
	int rc;

	if (at > UINT32_MAX - 4 * OUTC_MAX_PART)
		return -ENOMEM;
	rc = outc_escape_buf(host, &st->strbuf, s ? s : "", OUTC_ESC_LABEL);
	if (rc)
		return rc;
	k.s = st->strbuf.p + at;
	k.len = st->strbuf.len - at;
	h = pp_hash_bytes(k.s, k.len);
	id = outc_table_find(&st->string_index, h, pp_same_string, &k);
	if (id >= 0) {
		st->strbuf.len = at;
		return id;
	}
	rc = outc_grow(host, (void **)&st->strings, &st->strings_cap, st->nstrings + 1,
		       sizeof(*st->strings), PP_MAX_STRINGS);
	if (!rc)
		rc = outc_table_reserve(host, &st->string_index);
	if (rc)
		return rc;
	outc_table_insert(&st->string_index, h, st->nstrings);
	st->strings[st->nstrings].at = (uint32_t)at;
	st->strings[st->nstrings].len = (uint32_t)k.len;
	return (int64_t)st->nstrings++;
}

/* --- functions -------------------------------------------------------- */

struct pp_function_key {
	const struct pp_function *functions;
	struct pp_function f;
};

static int pp_same_function(const void *arg, size_t idx)
{
	const struct pp_function_key *k = arg;

	return k->functions[idx].name == k->f.name && k->functions[idx].file == k->f.file;
}

/* The function of frame f (by its name and file as written), added if new. */
static int64_t pp_function(struct pp_state *st, const struct outc_frame *f)
{
	struct pp_function_key k = { st->functions, { 0, 0, 0 } };
	int64_t name, file, id;
	uint64_t h;
	int rc;

	name = pp_string(st, f->name);
	if (name < 0)
		return name;
	file = pp_string(st, f->pseudo ? "" : f->file);
	if (file < 0)
		return file;
	k.f.name = (uint32_t)name;
	k.f.file = (uint32_t)file;
	h = outc_mix(((uint64_t)k.f.name << 32) | k.f.file);
	id = outc_table_find(&st->function_index, h, pp_same_function, &k);
	if (id >= 0)
		return id;
	rc = outc_grow(st->rec.host, (void **)&st->functions, &st->functions_cap,
		       st->nfunctions + 1, sizeof(*st->functions), OUTC_MAX_ENTRIES);
	if (!rc)
		rc = outc_table_reserve(st->rec.host, &st->function_index);
	if (rc)
		return rc;
	outc_table_insert(&st->function_index, h, st->nfunctions);
	k.f.start_line = f->first_line;
	st->functions[st->nfunctions] = k.f;
	return (int64_t)st->nfunctions++;
}

/* The strings every profile names, first and in the order of their enum;
 * and py-spy's command line, kept as the profile's comment. */
static const char *const pp_fixed[] = { "", "samples", "count", "cpu", "wall", "nanoseconds",
					"pid", "thread_id", "thread_name" };
enum { S_SAMPLES = 1, S_COUNT, S_CPU, S_WALL, S_NANOSECONDS, S_PID, S_THREAD_ID,
       S_THREAD_NAME };

static int pp_fixed_strings(struct pp_state *st, const char *title)
{
	size_t i;
	int64_t id;

	/* strbuf.p is never NULL from here on, even while every string is "" */
	if (outc_buf_put(st->rec.host, &st->strbuf, "", 0))
		return -ENOMEM;
	for (i = 0; i < sizeof(pp_fixed) / sizeof(pp_fixed[0]); i++) {
		id = pp_string(st, pp_fixed[i]);
		if (id != (int64_t)i)
			return id < 0 ? (int)id : -EINVAL;
	}
	if (!title)
		return 0;
	id = pp_string(st, title);
	if (id < 0)
		return (int)id;
	st->comment = (uint32_t)id;
	return 0;
}

/* Every function of the profile, and the function of every location. */
static int pp_make_functions(struct pp_state *st)
{
	const struct outc_stacks *s = &st->rec.stacks;
	size_t i;
	int64_t id;

	if (!s->nframes)
		return 0;
	st->location_function = st->rec.host->alloc(s->nframes * sizeof(*st->location_function));
	if (!st->location_function)
		return -ENOMEM;
	for (i = 0; i < s->nframes; i++) {
		id = pp_function(st, &s->frames[i]);
		if (id < 0)
			return (int)id;
		st->location_function[i] = (uint32_t)id;
	}
	return 0;
}

/* --- the wire format -------------------------------------------------- */

enum { PB_VARINT = 0, PB_LEN = 2 };

static int pb_varint(const struct pyspy_host *host, struct outc_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return outc_buf_put(host, b, tmp, n);
}

/* A varint field; zero is the default and is left out. */
static int pb_uint(const struct pyspy_host *host, struct outc_buf *b, uint32_t field, uint64_t v)
{
	int rc;

	if (!v)
		return 0;
	rc = pb_varint(host, b, ((uint64_t)field << 3) | PB_VARINT);
	return rc ? rc : pb_varint(host, b, v);
}

/* A length-delimited field holding the n bytes at p. */
static int pb_bytes(const struct pyspy_host *host, struct outc_buf *b, uint32_t field,
		    const void *p, size_t n)
{
	int rc = pb_varint(host, b, ((uint64_t)field << 3) | PB_LEN);

	if (!rc)
		rc = pb_varint(host, b, n);
	if (!rc && n)
		rc = outc_buf_put(host, b, p, n);
	return rc;
}

/* The message in inner, as field of b; inner is emptied for the next one. */
static int pb_message(const struct pyspy_host *host, struct outc_buf *b, uint32_t field,
		      struct outc_buf *inner)
{
	int rc = pb_bytes(host, b, field, inner->p, inner->len);

	inner->len = 0;
	return rc;
}

/* --- gzip ------------------------------------------------------------- */

static void *pp_zalloc(void *opaque, unsigned items, unsigned size)
{
	const struct pyspy_host *host = opaque;

	if (size && items > SIZE_MAX / size)
		return NULL;
	return host->alloc((size_t)items * size);
}

static void pp_zfree(void *opaque, void *p)
{
	const struct pyspy_host *host = opaque;

	host->free(p);
}

/* Compress n bytes (flush: Z_NO_FLUSH or Z_FINISH) and write what comes out. */
static int pp_deflate(struct pp_state *st, const void *p, size_t n, int flush)
{
	unsigned char out[PP_CHUNK];
	int zrc;

	st->z.next_in = (unsigned char *)(uintptr_t)p;
	st->z.avail_in = (uInt)n;
	do {
		st->z.next_out = out;
		st->z.avail_out = sizeof(out);
		zrc = deflate(&st->z, flush);
		if (zrc == Z_STREAM_ERROR)
			return -EIO;
		if (fwrite(out, 1, sizeof(out) - st->z.avail_out, st->rec.stream) !=
		    sizeof(out) - st->z.avail_out)
			return errno > 0 ? -errno : -EIO;
	} while (st->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
	return 0;
}

/* Hand the pending top-level bytes to gzip once there are enough of them. */
static int pp_emit(struct pp_state *st, int last)
{
	int rc = 0;

	if (!last && st->top.len < PP_CHUNK)
		return 0;
	if (st->top.len)
		rc = pp_deflate(st, st->top.p, st->top.len, Z_NO_FLUSH);
	st->top.len = 0;
	if (!rc && last)
		rc = pp_deflate(st, "", 0, Z_FINISH);
	return rc;
}

/* --- the profile ------------------------------------------------------ */

enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2,
	LOCATION_ID = 1, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5,
};

static int pp_value_type(struct pp_state *st, uint32_t field, uint32_t type, uint32_t unit)
{
	const struct pyspy_host *host = st->rec.host;
	int rc = pb_uint(host, &st->msg, VALUE_TYPE_TYPE, type);

	if (!rc)
		rc = pb_uint(host, &st->msg, VALUE_TYPE_UNIT, unit);
	return rc ? rc : pb_message(host, &st->top, field, &st->msg);
}

/* One string label of a sample: key is a string index, value a string. */
static int pp_label(struct pp_state *st, uint32_t key, const char *value)
{
	const struct pyspy_host *host = st->rec.host;
	int64_t v = pp_string(st, value);
	int rc;

	if (v < 0)
		return (int)v;
	rc = pb_uint(host, &st->sub, LABEL_KEY, key);
	if (!rc)
		rc = pb_uint(host, &st->sub, LABEL_STR, (uint64_t)v);
	return rc ? rc : pb_message(host, &st->msg, SAMPLE_LABEL, &st->sub);
}

static int pp_write_sample(struct pp_state *st, const struct pp_sample *s, uint64_t period)
{
	const struct pyspy_host *host = st->rec.host;
	const struct outc_node *nodes = st->rec.stacks.nodes;
	const struct pp_thread *t = &st->threads[s->thread];
	char pid[24], tid[24];
	uint32_t n;
	int rc = 0;

	/* location ids, leaf first, packed */
	for (n = s->leaf; n != OUTC_NONE && !rc; n = nodes[n].parent)
		rc = pb_varint(host, &st->sub, (uint64_t)nodes[n].frame + 1);
	if (!rc)
		rc = pb_message(host, &st->msg, SAMPLE_LOCATION_ID, &st->sub);
	if (!rc)
		rc = pb_varint(host, &st->sub, s->count);
	if (!rc)
		rc = pb_varint(host, &st->sub, s->count * period);
	if (!rc)
		rc = pb_message(host, &st->msg, SAMPLE_VALUE, &st->sub);
	snprintf(pid, sizeof(pid), "%lld", (long long)t->pid);
	snprintf(tid, sizeof(tid), "%llu", t->os_thread_id ? (unsigned long long)t->os_thread_id
							   : (unsigned long long)t->thread_id);
	if (!rc)
		rc = pp_label(st, S_PID, pid);
	if (!rc)
		rc = pp_label(st, S_THREAD_ID, tid);
	if (!rc && t->name)
		rc = pp_label(st, S_THREAD_NAME, t->name);
	if (!rc)
		rc = pb_message(host, &st->top, PROFILE_SAMPLE, &st->msg);
	return rc ? rc : pp_emit(st, 0);
}

static int pp_write_location(struct pp_state *st, size_t i)
{
	const struct pyspy_host *host = st->rec.host;
	const struct outc_frame *f = &st->rec.stacks.frames[i];
	int rc;

	rc = pb_uint(host, &st->sub, LINE_FUNCTION_ID, (uint64_t)st->location_function[i] + 1);
	if (!rc && f->line > 0)
		rc = pb_uint(host, &st->sub, LINE_LINE, (uint64_t)f->line);
	if (!rc)
		rc = pb_uint(host, &st->msg, LOCATION_ID, (uint64_t)i + 1);
	if (!rc)
		rc = pb_message(host, &st->msg, LOCATION_LINE, &st->sub);
	if (!rc)
		rc = pb_message(host, &st->top, PROFILE_LOCATION, &st->msg);
	return rc ? rc : pp_emit(st, 0);
}

static int pp_write_function(struct pp_state *st, size_t i)
{
	const struct pyspy_host *host = st->rec.host;
	const struct pp_function *f = &st->functions[i];
	int rc;

	rc = pb_uint(host, &st->msg, FUNCTION_ID, (uint64_t)i + 1);
	if (!rc)
		rc = pb_uint(host, &st->msg, FUNCTION_NAME, f->name);
	if (!rc)
		rc = pb_uint(host, &st->msg, FUNCTION_FILENAME, f->file);
	if (!rc && f->start_line > 0)
		rc = pb_uint(host, &st->msg, FUNCTION_START_LINE, (uint64_t)f->start_line);
	if (!rc)
		rc = pb_message(host, &st->top, PROFILE_FUNCTION, &st->msg);
	return rc ? rc : pp_emit(st, 0);
}

static int pp_write(struct pp_state *st, const struct pyspy_run_summary *summary)
{
	const struct pyspy_host *host = st->rec.host;
	uint32_t kind = st->idle ? S_WALL : S_CPU;
	uint64_t period = (uint64_t)llround(1e9 / st->rate);
	double duration_ns = (double)st->last_time_ns;
	size_t i;
	int rc;

	if (summary && isfinite(summary->duration_s) && summary->duration_s > 0)
		duration_ns = summary->duration_s * 1e9;
	rc = pp_value_type(st, PROFILE_SAMPLE_TYPE, S_SAMPLES, S_COUNT);
	if (!rc)
		rc = pp_value_type(st, PROFILE_SAMPLE_TYPE, kind, S_NANOSECONDS);
	for (i = 0; i < st->nsamples && !rc; i++)
		rc = pp_write_sample(st, &st->samples[i], period);
	for (i = 0; i < st->rec.stacks.nframes && !rc; i++)
		rc = pp_write_location(st, i);
	for (i = 0; i < st->nfunctions && !rc; i++)
		rc = pp_write_function(st, i);
	/* every string the samples' labels added is in the table by now */
	for (i = 0; i < st->nstrings && !rc; i++) {
		rc = pb_bytes(host, &st->top, PROFILE_STRING_TABLE,
			      st->strbuf.p + st->strings[i].at, st->strings[i].len);
		if (!rc)
			rc = pp_emit(st, 0);
	}
	if (!rc)
		rc = pb_uint(host, &st->top, PROFILE_TIME_NANOS, (uint64_t)st->start_wall_ns);
	if (!rc && duration_ns < 9e18)
		rc = pb_uint(host, &st->top, PROFILE_DURATION_NANOS, (uint64_t)duration_ns);
	if (!rc)
		rc = pp_value_type(st, PROFILE_PERIOD_TYPE, kind, S_NANOSECONDS);
	if (!rc)
		rc = pb_uint(host, &st->top, PROFILE_PERIOD, period);
	if (!rc)
		rc = pb_uint(host, &st->top, PROFILE_COMMENT, st->comment);
	return rc ? rc : pp_emit(st, 1);
}

/* --- the module ------------------------------------------------------- */

static void pp_close(void *state);

static int pp_open(const struct pyspy_host *host, const struct pyspy_output_config *cfg,
		   FILE *stream, void **state, char *err, size_t errlen)
{
	struct pp_state *st;
	struct timespec now;
	int rc;

	rc = outc_record_open(host, cfg, stream, sizeof(*st), "pprof", (void **)&st, err, errlen);
	if (rc)
		return rc;
	st->rec.stacks.full_filenames = 1; /* a function's file is its full name */
	st->rate = isfinite(cfg->rate) && cfg->rate > 0 ? cfg->rate : 100.0;
	st->idle = cfg->idle;
	if (clock_gettime(CLOCK_REALTIME, &now) == 0)
		st->start_wall_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	rc = pp_fixed_strings(st, cfg->title);
	if (rc) {
		snprintf(err, errlen, "pprof: out of memory");
		pp_close(st);
		return rc;
	}
	*state = st;
	return 0;
}

static int pp_sample(void *state, const struct pyspy_sample *sample, char *err, size_t errlen)
{
	struct pp_state *st = state;
	struct pyspy_sample smp;

	pyspy_copy_elem(&smp, sizeof(smp), sample, 0, sample->size);
	st->last_time_ns = smp.time_ns;
	return outc_record_sample(&st->rec, sample, pp_add_stack, err, errlen);
}

static int pp_finish(void *state, const struct pyspy_run_summary *summary,
		     char *err, size_t errlen)
{
	struct pp_state *st = state;
	int rc, zrc;

	rc = pp_make_functions(st);
	if (rc) {
		snprintf(err, errlen, "pprof: out of memory for the functions");
		return rc;
	}
	st->z.zalloc = pp_zalloc;
	st->z.zfree = pp_zfree;
	st->z.opaque = (void *)(uintptr_t)st->rec.host;
	zrc = deflateInit2(&st->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			   Z_DEFAULT_STRATEGY);
	if (zrc != Z_OK) {
		if (zrc == Z_MEM_ERROR)
			snprintf(err, errlen, "pprof: out of memory for gzip");
		else
			snprintf(err, errlen, "pprof: cannot start gzip: %s",
				 st->z.msg ? st->z.msg : zError(zrc));
		return zrc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	}
	st->z_open = 1;
	errno = 0;
	rc = pp_write(st, summary);
	if (!rc && (fflush(st->rec.stream) == EOF || ferror(st->rec.stream)))
		rc = errno > 0 ? -errno : -EIO;
	if (rc == -ENOMEM)
		snprintf(err, errlen, "pprof: out of memory");
	else if (rc)
		snprintf(err, errlen, "pprof: cannot write: %s", strerror(-rc));
	return rc;
}

static void pp_close(void *state)
{
	struct pp_state *st = state;
	const struct pyspy_host *host;

	if (!st)
		return;
	host = st->rec.host;
	if (st->z_open)
		deflateEnd(&st->z);
	host->free(st->threads);
	host->free(st->thread_index.slots);
	host->free(st->samples);
	host->free(st->sample_index.slots);
	host->free(st->strbuf.p);
	host->free(st->strings);
	host->free(st->string_index.slots);
	host->free(st->functions);
	host->free(st->function_index.slots);
	host->free(st->location_function);
	host->free(st->top.p);
	host->free(st->msg.p);
	host->free(st->sub.p);
	outc_record_free(&st->rec);
	host->free(st);
}

static const struct pyspy_output_ops pp_ops = {
	.size = sizeof(struct pyspy_output_ops),
	.commands = PYSPY_CMD_RECORD,
	.format = "pprof",
	.aliases = NULL,
	.extension = "pb.gz",
	.to_stdout = 0,
	.open = pp_open,
	.sample = pp_sample,
	.finish = pp_finish,
	.close = pp_close,
	.written = "pprof profile",
	.extensions = "pb.gz, pprof",
};

PYSPY_EXPORT const struct pyspy_module pyspy_module = {
	.abi_version = PYSPY_ABI_VERSION,
	.struct_size = sizeof(struct pyspy_module),
	.kind = PYSPY_KIND_OUTPUT,
	.name = "pprof",
	.summary = "pprof: gzipped profile.proto for go tool pprof, Pyroscope, Parca",
	.ops = &pp_ops,
};
