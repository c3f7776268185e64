/*
 * A session: one attached Python process (see session.h).
 *
 * One sample:
 *   1. the OS threads and their states (before any pause: a stopped task
 *      reads 't');
 *   2. pause (unless nonblocking);
 *   3. walk: every thread state of the interpreter and its frame chain,
 *      collecting raw frames (code object address, instruction offset) only;
 *   4. resume;
 *   5. resolve: validate every code object met (one batched read), decode
 *      new ones, turn raw frames into (name, file, line).
 * Walking first and resolving later keeps the target stopped for as short a
 * time as possible.  Step 3 starts with one speculative read of what the
 * last sample found (thread states, frames, data-stack chunks, code
 * fingerprints), so that in steady state a sample is a single
 * process_vm_readv; every guess is checked against what the walk finds.
 * Every chain is bounded and cycle-checked; a garbage pointer ends a walk
 * (counted as an error), never the profiler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codecache.h"
#include "discover.h"
#include "holdset.h"
#include "host.h"
#include "intern.h"
#include "log.h"
#include "remote.h"
#include "locals.h"
#include "session.h"
#include "threadnames.h"
#include "util.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define OS_STATE_MAX_AGE_NS 5000000ull /* 5 ms */
/* Frames and thread states read per sample: bounds the time a sample takes
 * (and the target is held) and the memory its frames use, whatever the
 * number of threads or the depth of their stacks. */
#define MAX_SAMPLE_VISITS (1u << 18)
/* Frames kept of one stack deeper than KEEP_LEAF + KEEP_ROOT: the innermost
 * KEEP_LEAF and the outermost KEEP_ROOT (the root end, which every view
 * aggregates by), a marker frame between them counting the others. */
#define KEEP_LEAF 1024u
/* After a failed sample, look for a new program (exec) at most this often,
 * and wait this long for its interpreter before giving up. */
#define EXEC_CHECK_NS 250000000ull /* 250 ms */
#define EXEC_WAIT_NS 5000000000ull /* 5 s */
#define KEEP_ROOT 32768u
#define MAX_CHUNK_BYTES (4u << 20)
#define TSTATE_READ_MAX 4096
#define TID_PROBE_BYTES 2048
#define TID_BATCH 64
#define HOLD_TIMEOUT_NS 10000000ull /* 10 ms: default wait for the others after a first stop */
#define HOLD_WAIT_NS 100000000ull   /* 100 ms: wait for a first stop (nothing is held meanwhile) */
#define HOLD_WALKS 3 /* walks of one sample while the set of Python threads changes */

struct thread_walk {
	uint64_t tstate;
	uint64_t thread_id;
	int64_t native_id;   /* from the thread state (3.11+), else 0 */
	int holds_gil;       /* from the thread state, -1 unknown */
	size_t first, count; /* raw frames kept */
	size_t depth;        /* frames met, kept or not */
	size_t omitted;      /* frames between the kept leaf and root ends */
	int truncated;
	int32_t spec_tid;    /* <= 3.10: kernel tid read by the speculative read, or 0 */
	/* What the next sample may read speculatively (3.11+). */
	uint64_t cframe;
	uint64_t chunk, chunk_used, chunk_size;
};

/* The shape of the last sample, guessed to hold for the next one: its
 * thread states, their cframes and data-stack chunks are read in the same
 * call as the head of the thread list, then checked against what the
 * sample finds.  A wrong guess only costs the reads it would have made. */
#define SPEC_THREADS 8
#define SPEC_SLACK 1024
#define SPEC_FRAMES 256
#define SPEC_FRAME_SLOTS 512 /* hash of spec_frame: a power of two, >= 2 * SPEC_FRAMES */
#define SPEC_CODES 64

struct spec_thread {
	uint64_t tstate, cframe, chunk, chunk_len;
	uint64_t tid_at;   /* <= 3.10: where its kernel thread id is, or 0 */
};

/* The OS state of one thread, asked for alone (see thread_os_state). */
struct os_state {
	int64_t tid;
	uint32_t state;   /* enum pyspy_os_thread_state */
	uint64_t read_ns;
};

struct session {
	struct session_options opt;
	struct plugins *pl;
	struct remote r;
	struct python_target t;
	struct interner strings;
	struct codecache cc;
	struct thread_names names;
	struct pyspy_process_info info;
	const char *cmdline;

	int32_t tstate_read;  /* bytes of a thread state to read */
	int32_t frame_read;   /* bytes of a frame to read */

	uint64_t gil_struct;   /* 3.12+: *(interp + ceval.gil), read once */
	int32_t gil_lo;        /* offset of the GIL region read each sample */

	/* pthread_t -> kernel tid for <= 3.10, found by calibration */
	int32_t tid_offset;   /* -1 unknown */
	int tid_offset_sure;  /* two or more threads agreed on it */
	size_t tid_calibrated_with; /* thread count at the last try */

	/* per-sample buffers, reused */
	struct thread_walk *threads;
	size_t nthreads, cap_threads;
	/* raw frames of this sample: code object address, and the byte offset of
	 * the current instruction (< 0: not started) */
	uint64_t *raw_code;
	int64_t *raw_addr;
	uint64_t *raw_frame;   /* the frame's address (for --locals) */
	struct pyspy_local **raw_vars; /* --locals: each frame's variables */
	uint32_t *raw_nvars;
	size_t nraw_vars;      /* raw frames of this walk whose variables were read */
	int locals_ok;         /* struct locals below was initialised */
	struct locals locals;
	size_t nraw, cap_raw;
	struct pyspy_frame *frames;
	size_t cap_frames;
	struct pyspy_stack *stacks;
	size_t cap_stacks;
	uint8_t *chunk;
	size_t cap_chunk;
	size_t visits;        /* frames and thread states read in this sample */
	int list_cut;         /* this sample did not read the thread list to its end */
	uint64_t exec_check_ns; /* when a failed sample last looked for a new program */
	uint64_t exec_seen_ns;  /* when no interpreter was first found there, or 0 */
	uint64_t nsamples;
	const struct pyspy_os_thread *os; /* the OS threads and when they were read */
	size_t nos;
	uint64_t os_read_ns;
	uint64_t chunk_misses;   /* chunks the speculative read did not hold */
	/* Nonblocking mode asks the OS only about the threads that do not hold
	 * the GIL, one by one; these are the answers of the last sample and of
	 * this one. */
	struct os_state *ostates, *next_ostates;
	size_t nostates, nnext_ostates, cap_ostates;

	struct spec_thread spec[SPEC_THREADS];
	size_t nspec;
	uint8_t *spec_buf;     /* thread states, frame pointers, chunks */
	size_t cap_spec_buf;
	/* Frames read one by one last time (frame objects up to 3.10; from
	 * 3.11 the frames outside the chunks: entry frames on the C stack,
	 * generators), read speculatively this time. */
	uint64_t spec_frame[SPEC_FRAMES], next_spec_frame[SPEC_FRAMES];
	size_t nspec_frames, nnext_spec_frames;
	uint16_t spec_slot[SPEC_FRAME_SLOTS]; /* hash of spec_frame: index + 1, 0 empty */
	const uint8_t *spec_frame_buf;   /* their copies in this sample, or NULL */
	int afresh;                      /* a walk read again: no speculative copies */
	int spec_frames_read;            /* how many of them were read */
	/* Code objects of the last sample: their fingerprints too. */
	uint64_t spec_code[SPEC_CODES];
	size_t nspec_codes;

	/* Blocking mode holds only the threads that run Python code. */
	struct holdset hold;
	int64_t *walk_tids;      /* kernel ids of the threads of this walk */
	size_t cap_walk_tids;
	int hold_warned;         /* a thread could not be held: said once */
	int64_t gil_tid;         /* kernel id of the last GIL holder, 0 none */
	uint64_t gil_last;       /* thread state that took the GIL last, once held */
	uint64_t gil_last_after; /* the same read again after the walk, still held */
};

/* ---- opening ------------------------------------------------------------ */

static int32_t max_end(int32_t cur, int32_t off, int32_t size)
{
	return off >= 0 && off + size > cur ? off + size : cur;
}

static void plan_reads(struct session *s)
{
	const struct pyspy_layout *l = &s->t.layout;
	int32_t n = 0;

	n = max_end(n, l->tstate.next, 8);
	n = max_end(n, l->tstate.interp, 8);
	n = max_end(n, l->tstate.frame, 8);
	n = max_end(n, l->tstate.cframe, 8);
	n = max_end(n, l->tstate.current_frame, 8);
	n = max_end(n, l->tstate.thread_id, 8);
	n = max_end(n, l->tstate.native_thread_id, 8);
	n = max_end(n, l->tstate.status, 4);
	n = max_end(n, l->tstate.holds_gil, 4);
	n = max_end(n, l->tstate.datastack_chunk, 8);
	n = max_end(n, l->tstate.datastack_top, 8);
	n = max_end(n, l->tstate.base_frame, 8);
	s->tstate_read = n > TSTATE_READ_MAX ? TSTATE_READ_MAX : n;

	n = 0;
	if (l->frame_model == PYSPY_FRAMES_OBJECT) {
		n = max_end(n, l->frame.back, 8);
		n = max_end(n, l->frame.code, 8);
		n = max_end(n, l->frame.lasti, 4);
	} else {
		n = max_end(n, l->iframe.previous, 8);
		n = max_end(n, l->iframe.executable, 8);
		n = max_end(n, l->iframe.instr_ptr, 8);
		n = max_end(n, l->iframe.owner, 1);
		n = max_end(n, l->iframe.tlbc_index, 4);
	}
	s->frame_read = n;
}

/*
 * A core file through the core-file backend: what it says of the process
 * stands in for what --pid would give (pid, signal).
 */
static int open_core(struct session *s, struct remote *r, char *err, size_t errlen)
{
	struct pyspy_proc_info info = { .size = sizeof(info) };
	const struct plugin *backend;
	int rc;

	rc = plugins_core_backend(s->pl, &backend, err, errlen);
	if (rc)
		return rc;
	remote_init(r, plugin_backend_ops(backend), backend->host);
	rc = remote_open_file(r, s->opt.core, s->opt.core_root, err, errlen);
	if (rc)
		return rc;
	rc = remote_info(r, &info, err, errlen);
	if (rc)
		return rc;
	s->opt.pid = info.pid;
	r->pid = info.pid;
	s->info.signal = info.signal;
	return 0;
}

/* Attach a handle of its own to the process into r and find its
 * interpreter into t, trying again until wait_s has passed while the
 * process does not look like Python yet. */
static int attach_and_discover(struct session *s, struct remote *r, struct python_target *t,
			       double wait_s, char *err, size_t errlen)
{
	const struct plugin *backend;
	uint64_t deadline = host_now_ns() + (uint64_t)(wait_s * 1e9);
	int rc;

	if (s->opt.core) {
		rc = open_core(s, r, err, errlen);
	} else {
		rc = plugins_backend(s->pl, &backend, err, errlen);
		if (rc)
			return rc;
		remote_init(r, plugin_backend_ops(backend), backend->host);
		rc = remote_attach(r, s->opt.pid, err, errlen);
	}
	if (rc)
		return rc;
	for (;;) {
		rc = discover_python(r, s->pl, t, err, errlen);
		if (rc == 0)
			return 0;
		discover_free(r, t);
		if ((rc != -ENOENT && rc != -EAGAIN) || host_now_ns() >= deadline ||
		    remote_alive(r, NULL) == 0)
			break;
		host_wait_until(host_now_ns() + 20000000ull, -1);
		if (host_signals_peek() & (HOST_SIG_INT | HOST_SIG_TERM))
			break;
	}
	if (rc == -ENOENT) {
		struct pyspy_proc_info info = { .size = sizeof(info) };
		char why[512];

		snprintf(why, sizeof(why), "%s", err);
		if (s->opt.core)
			snprintf(err, errlen, "core file %s (process %lld) is not of a Python program: %s",
				 s->opt.core, (long long)s->opt.pid, why);
		else if (remote_info(r, &info, err, errlen) == 0)
			snprintf(err, errlen, "process %lld (%s) is not a Python program: %s",
				 (long long)s->opt.pid, info.comm ? info.comm : "?", why);
		else
			snprintf(err, errlen, "process %lld is not a Python program: %s", (long long)s->opt.pid,
				 why);
	}
	return rc;
}

/* Release what attach_and_discover made. */
static void detach_target(struct remote *r, struct python_target *t)
{
	if (r->proc)
		discover_free(r, t);
	if (r->ops)
		remote_detach(r);
}

/* Everything that follows from the interpreter found (s->r, s->t): what to
 * read, the caches of code objects and thread names, what outputs are
 * told of the process. */
static int bind_target(struct session *s, char *err, size_t errlen)
{
	struct pyspy_proc_info info = { .size = sizeof(info) };
	uint64_t code_type = 0, size;
	int rc;

	if (s->t.notice[0])
		log_warn("%s", s->t.notice);
	if (remote_binary_symbol(&s->r, s->t.bin, "PyCode_Type", &code_type, &size) != 0)
		code_type = 0;
	s->tid_offset = -1;
	plan_reads(s);
	codecache_init(&s->cc, &s->t.layout, &s->r, &s->strings, s->opt.pid, code_type);
	thread_names_init(&s->names, &s->t.layout, &s->r, &s->strings, s->t.interp, s->t.bin);
	if (s->opt.locals) {
		rc = locals_init(&s->locals, &s->t.layout, &s->r, s->t.bin, s->opt.locals);
		if (rc) {
			snprintf(err, errlen, "--locals: the layout of Python %s does not say where a "
				 "frame's variables are (regenerate it with `make layouts`)",
				 s->t.version_str);
			return rc;
		}
		s->locals_ok = 1;
	}

	s->cmdline = "";
	if (remote_info(&s->r, &info, err, errlen) == 0 && info.cmdline)
		s->cmdline = intern(&s->strings, info.cmdline);
	err[0] = '\0';
	s->info.size = sizeof(s->info);
	s->info.pid = s->opt.pid;
	s->info.cmdline = s->cmdline;
	s->info.python_version = intern(&s->strings, s->t.version_str);
	s->info.python_path = intern(&s->strings, s->t.bin_path);
	return 0;
}

int session_open(struct plugins *pl, const struct session_options *opt, struct session **out,
		 char *err, size_t errlen)
{
	struct session *s = xcalloc(1, sizeof(*s));
	int rc;

	s->opt = *opt;
	s->pl = pl;
	intern_init(&s->strings);
	rc = attach_and_discover(s, &s->r, &s->t, opt->wait_s, err, errlen);
	if (rc)
		goto out_close;
	rc = bind_target(s, err, errlen);
	if (rc)
		goto out_close;
	s->info.core_path = opt->core ? intern(&s->strings, opt->core) : NULL;
	*out = s;
	return 0;

out_close:
	session_close(s);
	return rc;
}

/* What bind_target made, and every guess the walker took from the last
 * samples of the interpreter that was. */
static void unbind_target(struct session *s)
{
	if (s->cc.slots)
		codecache_free(&s->cc);
	memset(&s->cc, 0, sizeof(s->cc));
	thread_names_free(&s->names);
	s->gil_struct = 0;
	s->tid_offset = -1;
	s->tid_offset_sure = 0;
	s->tid_calibrated_with = 0;
	s->os = NULL;
	s->nos = 0;
	s->os_read_ns = 0;
	s->nostates = s->nnext_ostates = 0;
	s->nspec = 0;
	s->nspec_frames = s->nnext_spec_frames = 0;
	memset(s->spec_slot, 0, sizeof(s->spec_slot));
	s->spec_frame_buf = NULL;
	s->nspec_codes = 0;
	if (s->locals_ok)
		locals_fini(&s->locals);
	s->locals_ok = 0;
}

static int same_target(const struct python_target *a, const struct python_target *b)
{
	return a->version == b->version && a->runtime == b->runtime && a->interp == b->interp &&
	       a->tstate_current == b->tstate_current && strcmp(a->bin_path, b->bin_path) == 0;
}

int session_rediscover(struct session *s, int *changed, char *err, size_t errlen)
{
	struct remote r = { 0 };
	struct python_target t = { 0 };
	int rc;

	*changed = 0;
	rc = attach_and_discover(s, &r, &t, 0, err, errlen);
	if (rc) {
		detach_target(&r, &t);
		return rc;
	}
	if (same_target(&s->t, &t)) {
		detach_target(&r, &t);
		return 0;
	}
	unbind_target(s);
	detach_target(&s->r, &s->t);
	s->r = r;
	s->t = t;
	*changed = 1;
	return bind_target(s, err, errlen);
}

void session_close(struct session *s)
{
	if (!s)
		return;
	if (s->nsamples)
		log_debug("%llu samples, %.2f reads per sample, %llu chunks read apart",
			  (unsigned long long)s->nsamples, (double)s->r.reads / (double)s->nsamples,
			  (unsigned long long)s->chunk_misses);
	unbind_target(s);
	detach_target(&s->r, &s->t);
	intern_free(&s->strings);
	free(s->threads);
	free(s->raw_code);
	free(s->raw_addr);
	free(s->raw_frame);
	free(s->raw_vars);
	free(s->raw_nvars);
	free(s->frames);
	free(s->stacks);
	free(s->chunk);
	free(s->spec_buf);
	free(s->ostates);
	free(s->next_ostates);
	holdset_free(&s->hold);
	free(s->walk_tids);
	free(s);
}

const struct pyspy_process_info *session_process(const struct session *s)
{
	return &s->info;
}

int session_alive(struct session *s)
{
	/* Without the alive op an exit shows as -ESRCH from the next sample. */
	return remote_alive(&s->r, NULL) != 0;
}

void session_report_cuts(uint64_t frames, uint64_t stacks, uint64_t lists_cut)
{
	if (frames)
		log_warn("%llu frames left out of %llu stacks deeper than %u frames: "
			 "a frame \"[N frames omitted]\" stands where they were",
			 (unsigned long long)frames, (unsigned long long)stacks,
			 KEEP_LEAF + KEEP_ROOT);
	if (lists_cut)
		log_warn("%llu samples did not read every thread (the thread list was broken "
			 "or longer than a sample may read: %u threads and frames)",
			 (unsigned long long)lists_cut, MAX_SAMPLE_VISITS);
}

/* ---- walking ------------------------------------------------------------ */

/* Cycle detection along a pointer chain (Brent): a mark that moves to the
 * current node at every power of two steps; meeting it again is a cycle. */
struct chain {
	uint64_t mark;
	size_t power, steps;
};

static void chain_init(struct chain *c)
{
	c->mark = 0;
	c->power = 1;
	c->steps = 0;
}

/* 1 if p was met before on this chain (a cycle), else 0. */
static int chain_step(struct chain *c, uint64_t p)
{
	if (p == c->mark)
		return 1;
	if (++c->steps == c->power) {
		c->mark = p;
		c->power *= 2;
		c->steps = 0;
	}
	return 0;
}

/* Every node read counts against the sample's budget: a garbage chain that
 * never repeats a node still ends. */
static int over_budget(struct session *s)
{
	return ++s->visits > MAX_SAMPLE_VISITS;
}

static void push_raw(struct session *s, uint64_t code, int64_t addr, uint64_t frame)
{
	if (s->nraw == s->cap_raw) {
		s->cap_raw = s->cap_raw ? s->cap_raw * 2 : 256;
		s->raw_code = xrealloc(s->raw_code, s->cap_raw * sizeof(*s->raw_code));
		s->raw_addr = xrealloc(s->raw_addr, s->cap_raw * sizeof(*s->raw_addr));
		s->raw_frame = xrealloc(s->raw_frame, s->cap_raw * sizeof(*s->raw_frame));
	}
	s->raw_code[s->nraw] = code;
	s->raw_addr[s->nraw] = addr;
	s->raw_frame[s->nraw] = frame;
	s->nraw++;
}

/* One more frame of tw, innermost first.  Past KEEP_LEAF + KEEP_ROOT
 * frames, the ones after the first KEEP_LEAF go round a ring of KEEP_ROOT
 * slots, so that the outermost are kept whatever the depth (end_frames puts
 * the ring in order). */
static void keep_frame(struct session *s, struct thread_walk *tw, uint64_t code, int64_t addr,
		       uint64_t frame)
{
	size_t at;

	if (tw->depth++ < KEEP_LEAF + KEEP_ROOT) {
		push_raw(s, code, addr, frame);
		tw->count++;
		return;
	}
	at = tw->first + KEEP_LEAF + (tw->depth - 1 - KEEP_LEAF) % KEEP_ROOT;
	s->raw_code[at] = code;
	s->raw_addr[at] = addr;
	s->raw_frame[at] = frame;
}

static void reverse_raw(struct session *s, size_t lo, size_t hi)
{
	while (lo + 1 < hi) {
		uint64_t c = s->raw_code[lo], f = s->raw_frame[lo];
		int64_t a = s->raw_addr[lo];

		hi--;
		s->raw_code[lo] = s->raw_code[hi];
		s->raw_addr[lo] = s->raw_addr[hi];
		s->raw_frame[lo] = s->raw_frame[hi];
		s->raw_code[hi] = c;
		s->raw_addr[hi] = a;
		s->raw_frame[hi] = f;
		lo++;
	}
}

/* After the walk of a thread that went round the ring: the oldest slot
 * first (a rotation by three reversals), and how many frames fell out. */
static void end_frames(struct session *s, struct thread_walk *tw)
{
	size_t lo = tw->first + KEEP_LEAF, hi = lo + KEEP_ROOT, r;

	if (tw->depth <= KEEP_LEAF + KEEP_ROOT)
		return;
	r = (tw->depth - KEEP_LEAF) % KEEP_ROOT;
	reverse_raw(s, lo, lo + r);
	reverse_raw(s, lo + r, hi);
	reverse_raw(s, lo, hi);
	tw->omitted = tw->depth - KEEP_LEAF - KEEP_ROOT;
}

/* The copy of the frame at fr made by this sample's speculative read. */
static const uint8_t *spec_frame(struct session *s, uint64_t fr)
{
	size_t i = hash_u64(fr) & (SPEC_FRAME_SLOTS - 1), probes;

	if (!s->spec_frame_buf || s->afresh)
		return NULL;
	for (probes = 0; probes < SPEC_FRAME_SLOTS && s->spec_slot[i]; probes++) {
		int k = s->spec_slot[i] - 1;

		if (s->spec_frame[k] == fr)
			return k < s->spec_frames_read ? s->spec_frame_buf + (size_t)k * (size_t)s->frame_read :
							 NULL;
		i = (i + 1) & (SPEC_FRAME_SLOTS - 1);
	}
	return NULL;
}

/* *buf: a copy of the frame at fr, not in any chunk: this sample's
 * speculative copy, or one read now into local (frame_read bytes).  Either
 * way the next sample reads it speculatively. */
static int copy_frame(struct session *s, uint64_t fr, uint8_t *local, const uint8_t **buf)
{
	int rc;

	*buf = spec_frame(s, fr);
	if (!*buf) {
		rc = remote_read(&s->r, fr, local, (size_t)s->frame_read);
		if (rc)
			return rc;
		*buf = local;
	}
	if (s->nnext_spec_frames < SPEC_FRAMES)
		s->next_spec_frame[s->nnext_spec_frames++] = fr;
	return 0;
}

/* <= 3.10: PyFrameObject chain through f_back. */
static int walk_frame_objects(struct session *s, uint64_t f, struct thread_walk *tw)
{
	const struct pyspy_layout *l = &s->t.layout;
	uint8_t local[512];
	size_t n = (size_t)s->frame_read;
	struct chain c;

	if (n > sizeof(local))
		return -EINVAL;
	chain_init(&c);
	while (f) {
		const uint8_t *buf;
		int32_t lasti;
		int rc;

		if (chain_step(&c, f) || over_budget(s))
			return -ELOOP;
		rc = copy_frame(s, f, local, &buf);
		if (rc)
			return rc;
		/* Nothing refers to a dead frame (freed, or kept for reuse): the
		 * program changed this stack while it was read. */
		if (l->ob_refcnt >= 0 && field_i64(buf, n, l->ob_refcnt) <= 0)
			return -EAGAIN;
		lasti = field_i32(buf, n, l->frame.lasti);
		keep_frame(s, tw, field_ptr(buf, n, l->frame.code),
			   lasti < 0 ? -1 : (int64_t)lasti * (int64_t)l->lasti_scale, f);
		f = field_ptr(buf, n, l->frame.back);
	}
	return 0;
}

/* 3.11+: read the used part of the thread's current data-stack chunk,
 * [chunk, datastack_top), in one call; frames inside it are then parsed
 * locally, the others (older chunks, generators) read one by one. */
static void load_chunk(struct session *s, uint64_t chunk, uint64_t top, uint64_t *lo, uint64_t *hi)
{
	size_t len;

	*lo = *hi = 0;
	if (!chunk || top <= chunk || top - chunk > MAX_CHUNK_BYTES)
		return;
	len = (size_t)(top - chunk);
	if (s->cap_chunk < len) {
		s->cap_chunk = len;
		s->chunk = xrealloc(s->chunk, s->cap_chunk);
	}
	if (remote_read(&s->r, chunk, s->chunk, len) != 0)
		return;
	*lo = chunk;
	*hi = top;
}

/* Frames inside [lo, hi) are parsed from chunk (a local copy); the others
 * are read one by one. */
static int walk_interpreter_frames(struct session *s, uint64_t fr, const uint8_t *chunk, uint64_t lo,
				   uint64_t hi, uint64_t base_frame, struct thread_walk *tw)
{
	const struct pyspy_layout *l = &s->t.layout;
	uint8_t local[512];
	size_t n = (size_t)s->frame_read;
	struct chain c;

	if (n > sizeof(local))
		return -EINVAL;
	chain_init(&c);
	while (fr) {
		const uint8_t *buf;
		uint64_t code, ip;
		uint8_t owner;

		if (chain_step(&c, fr) || over_budget(s))
			return -ELOOP;
		if (chunk && fr >= lo && fr + n <= hi && fr + n > fr) {
			buf = chunk + (fr - lo);
		} else {
			int rc = copy_frame(s, fr, local, &buf);

			if (rc)
				return rc;
		}
		owner = field_u8(buf, n, l->iframe.owner);
		if (owner < l->iframe.owner_skip_min) {
			code = field_ptr(buf, n, l->iframe.executable) & ~l->iframe.executable_tag_mask;
			ip = field_ptr(buf, n, l->iframe.instr_ptr);
			keep_frame(s, tw, code, (int64_t)(ip - (code + (uint64_t)l->code.code_adaptive)), fr);
		}
		if (base_frame && fr == base_frame)
			break;
		fr = field_ptr(buf, n, l->iframe.previous);
	}
	return 0;
}

/* What the speculative read of a sample already holds for one thread. */
struct prefetch {
	int32_t tid;           /* <= 3.10: at spec_thread.tid_at, or 0 */
	int have_fr;           /* fr below is *(cframe + current_frame) */
	uint64_t cframe, fr;
	uint64_t chunk, chunk_len;   /* [chunk, chunk + chunk_len) is in buf */
	const uint8_t *buf;
};

static int walk_thread(struct session *s, const uint8_t *ts, size_t tslen, struct thread_walk *tw,
		       const struct prefetch *pf)
{
	const struct pyspy_layout *l = &s->t.layout;
	uint64_t fr = 0, chunk, top, lo = 0, hi = 0;
	const uint8_t *buf = NULL;

	switch (l->frame_model) {
	case PYSPY_FRAMES_OBJECT:
		return walk_frame_objects(s, field_ptr(ts, tslen, l->tstate.frame), tw);
	case PYSPY_FRAMES_CFRAME: {
		uint64_t cframe = field_ptr(ts, tslen, l->tstate.cframe);

		tw->cframe = cframe;
		if (pf && pf->have_fr && pf->cframe == cframe)
			fr = pf->fr;
		else if (cframe && remote_read_ptr(&s->r, cframe + (uint64_t)l->tstate.cframe_current_frame, &fr))
			return -EFAULT;
		break;
	}
	case PYSPY_FRAMES_CURRENT:
		fr = field_ptr(ts, tslen, l->tstate.current_frame);
		break;
	default:
		return -EINVAL;
	}
	chunk = field_ptr(ts, tslen, l->tstate.datastack_chunk);
	top = field_ptr(ts, tslen, l->tstate.datastack_top);
	tw->chunk = chunk;
	tw->chunk_used = top > chunk && top - chunk <= MAX_CHUNK_BYTES ? top - chunk : 0;
	if (pf && pf->buf && pf->chunk == chunk && tw->chunk_used && tw->chunk_used <= pf->chunk_len) {
		buf = pf->buf;
		lo = chunk;
		hi = top;
	} else {
		load_chunk(s, chunk, top, &lo, &hi);
		buf = s->chunk;
		s->chunk_misses++;
	}
	if (buf && l->chunk.size >= 0 && hi - lo >= (uint64_t)l->chunk.size + 8)
		memcpy(&tw->chunk_size, buf + l->chunk.size, 8);
	return walk_interpreter_frames(s, fr, buf, lo, hi, field_ptr(ts, tslen, l->tstate.base_frame), tw);
}

/* ---- who holds the GIL -------------------------------------------------- */

/* The GIL state is one small region, read in the same call as the head of
 * the thread list: where it is (0 if unknown), and the holder in it. */
static uint64_t gil_region(struct session *s, size_t *len)
{
	const struct pyspy_layout *l = &s->t.layout;
	int32_t locked = -1, holder = -1;
	uint64_t base = 0;

	*len = 8;
	switch (l->gil_model) {
	case PYSPY_GIL_CURRENT_SYMBOL:
		return s->t.tstate_current;
	case PYSPY_GIL_RUNTIME:
		if (!s->t.runtime)
			return 0;
		if (l->runtime.gilstate_tstate_current >= 0)
			return s->t.runtime + (uint64_t)l->runtime.gilstate_tstate_current;
		base = s->t.runtime;
		locked = l->runtime.gil_locked;
		holder = l->runtime.gil_last_holder;
		break;
	case PYSPY_GIL_INTERP_PTR:
		/* interp->ceval.gil is set once when the interpreter starts. */
		if (!s->gil_struct && l->interp.ceval_gil >= 0)
			remote_read_ptr(&s->r, s->t.interp + (uint64_t)l->interp.ceval_gil, &s->gil_struct);
		base = s->gil_struct;
		locked = l->interp.gil_locked;
		holder = l->interp.gil_last_holder;
		break;
	default:
		return 0;
	}
	if (!base || locked < 0 || holder < 0)
		return 0;
	s->gil_lo = locked < holder ? locked : holder;
	*len = (size_t)((locked > holder ? locked : holder) - s->gil_lo + 8);
	return base + (uint64_t)s->gil_lo;
}

/* Where the GIL records the thread state that took it last, locked or not
 * (0 if the layout does not say: 2.7 and 3.6 only know the current one). */
static uint64_t gil_last_holder_at(struct session *s)
{
	const struct pyspy_layout *l = &s->t.layout;

	switch (l->gil_model) {
	case PYSPY_GIL_RUNTIME:
		if (!s->t.runtime || l->runtime.gil_last_holder < 0)
			return 0;
		return s->t.runtime + (uint64_t)l->runtime.gil_last_holder;
	case PYSPY_GIL_INTERP_PTR:
		if (!s->gil_struct || l->interp.gil_last_holder < 0)
			return 0;
		return s->gil_struct + (uint64_t)l->interp.gil_last_holder;
	}
	return 0;
}

/* That thread state now (blocking mode, while threads are held); 0 if it
 * cannot be read. */
static uint64_t gil_last_holder_now(struct session *s)
{
	uint64_t at = gil_last_holder_at(s), v = 0;

	if (!at || remote_read_ptr(&s->r, at, &v))
		return 0;
	return v;
}

static uint64_t gil_holder(struct session *s, const uint8_t *buf, size_t len)
{
	const struct pyspy_layout *l = &s->t.layout;

	switch (l->gil_model) {
	case PYSPY_GIL_CURRENT_SYMBOL:
		return field_ptr(buf, len, 0);
	case PYSPY_GIL_RUNTIME:
		if (l->runtime.gilstate_tstate_current >= 0)
			return field_ptr(buf, len, 0);
		return field_u32(buf, len, l->runtime.gil_locked - s->gil_lo) ?
			       field_ptr(buf, len, l->runtime.gil_last_holder - s->gil_lo) : 0;
	case PYSPY_GIL_INTERP_PTR:
		return field_u32(buf, len, l->interp.gil_locked - s->gil_lo) ?
			       field_ptr(buf, len, l->interp.gil_last_holder - s->gil_lo) : 0;
	}
	return 0;
}

static struct thread_walk *new_thread(struct session *s)
{
	if (s->nthreads == s->cap_threads) {
		s->cap_threads = s->cap_threads ? s->cap_threads * 2 : 16;
		s->threads = xrealloc(s->threads, s->cap_threads * sizeof(*s->threads));
	}
	memset(&s->threads[s->nthreads], 0, sizeof(s->threads[0]));
	return &s->threads[s->nthreads++];
}

/* The shape of this sample, for the next one's speculative read. */
static void remember_shape(struct session *s)
{
	size_t k;

	s->nspec = 0;
	s->spec_frame_buf = NULL;
	memcpy(s->spec_frame, s->next_spec_frame, s->nnext_spec_frames * sizeof(s->spec_frame[0]));
	s->nspec_frames = s->nnext_spec_frames;
	memset(s->spec_slot, 0, sizeof(s->spec_slot));
	for (k = 0; k < s->nspec_frames; k++) {
		size_t i = hash_u64(s->spec_frame[k]) & (SPEC_FRAME_SLOTS - 1);

		while (s->spec_slot[i])
			i = (i + 1) & (SPEC_FRAME_SLOTS - 1);
		s->spec_slot[i] = (uint16_t)(k + 1);
	}
	for (k = 0; k < s->nthreads && k < SPEC_THREADS; k++) {
		const struct thread_walk *tw = &s->threads[k];
		struct spec_thread *sp = &s->spec[s->nspec++];
		uint64_t len = 0;

		sp->tstate = tw->tstate;
		sp->tid_at = 0;
		if (s->t.layout.tstate.native_thread_id < 0 && s->tid_offset >= 0 && tw->thread_id)
			sp->tid_at = tw->thread_id + (uint64_t)s->tid_offset;
		sp->cframe = tw->cframe;
		sp->chunk = tw->chunk;
		/* Room to grow, but never past the end of the chunk. */
		if (tw->chunk && tw->chunk_used && tw->chunk_size >= tw->chunk_used &&
		    tw->chunk_size <= MAX_CHUNK_BYTES) {
			len = tw->chunk_used + SPEC_SLACK;
			if (len > tw->chunk_size)
				len = tw->chunk_size;
		}
		sp->chunk_len = len;
	}
}

/* Where this sample's speculative read put what it guessed (see
 * struct spec_thread): offsets into spec_buf and the index of each iov;
 * an iov numbered >= got was not read. */
struct shape_read {
	int got;
	size_t ts_at[SPEC_THREADS], fr_at[SPEC_THREADS], chunk_at[SPEC_THREADS], tid_at[SPEC_THREADS];
	int iov_ts[SPEC_THREADS], iov_fr[SPEC_THREADS], iov_chunk[SPEC_THREADS], iov_tid[SPEC_THREADS];
};

static void add_iov(struct pyspy_iov *iov, int *n, uint64_t remote, void *local, size_t len)
{
	iov[*n].remote = remote;
	iov[*n].local = local;
	iov[*n].len = len;
	(*n)++;
}

/* One call: the head of the thread list, the GIL state, and the shape of
 * the last sample (thread states, frame pointers, out-of-chunk frames,
 * code fingerprints, then chunks: one that ends early stops only what
 * follows it). */
static int read_shape(struct session *s, struct shape_read *sr, uint64_t *head, uint64_t *holder)
{
	const struct pyspy_layout *l = &s->t.layout;
	struct pyspy_iov iov[2 + 4 * SPEC_THREADS + SPEC_FRAMES + SPEC_CODES];
	size_t tslen = (size_t)s->tstate_read, gil_len, need = 0, frames_at, codes_at, k;
	int n = 0, frames_iov, codes_iov, have_gil;
	uint8_t gil[64];
	uint64_t gil_at;

	for (k = 0; k < s->nspec; k++) {
		sr->ts_at[k] = need;
		need += tslen;
		sr->fr_at[k] = need;
		need += 8;
		sr->tid_at[k] = need;
		need += 8;
		sr->chunk_at[k] = need;
		need += (size_t)s->spec[k].chunk_len;
	}
	frames_at = need;
	need += s->nspec_frames * (size_t)s->frame_read;
	codes_at = need;
	need += s->nspec_codes * (size_t)s->cc.fp_len;
	if (s->cap_spec_buf < need) {
		s->cap_spec_buf = need;
		s->spec_buf = xrealloc(s->spec_buf, need);
	}

	add_iov(iov, &n, s->t.interp + (uint64_t)l->interp.tstate_head, head, sizeof(*head));
	gil_at = gil_region(s, &gil_len);
	have_gil = gil_at && gil_len <= sizeof(gil);
	if (have_gil)
		add_iov(iov, &n, gil_at, gil, gil_len);
	for (k = 0; k < s->nspec; k++) {
		sr->iov_ts[k] = n;
		add_iov(iov, &n, s->spec[k].tstate, s->spec_buf + sr->ts_at[k], tslen);
		sr->iov_fr[k] = -1;
		if (l->frame_model == PYSPY_FRAMES_CFRAME && s->spec[k].cframe) {
			sr->iov_fr[k] = n;
			add_iov(iov, &n, s->spec[k].cframe + (uint64_t)l->tstate.cframe_current_frame,
				s->spec_buf + sr->fr_at[k], 8);
		}
		sr->iov_tid[k] = -1;
		if (s->spec[k].tid_at) {
			sr->iov_tid[k] = n;
			add_iov(iov, &n, s->spec[k].tid_at, s->spec_buf + sr->tid_at[k], 4);
		}
	}
	frames_iov = n;
	for (k = 0; k < s->nspec_frames; k++)
		add_iov(iov, &n, s->spec_frame[k], s->spec_buf + frames_at + k * (size_t)s->frame_read,
			(size_t)s->frame_read);
	codes_iov = n;
	for (k = 0; k < s->nspec_codes; k++)
		add_iov(iov, &n, codecache_fp_addr(&s->cc, s->spec_code[k]),
			s->spec_buf + codes_at + k * (size_t)s->cc.fp_len, (size_t)s->cc.fp_len);
	for (k = 0; k < s->nspec; k++) {
		sr->iov_chunk[k] = -1;
		if (s->spec[k].chunk_len) {
			sr->iov_chunk[k] = n;
			add_iov(iov, &n, s->spec[k].chunk, s->spec_buf + sr->chunk_at[k],
				(size_t)s->spec[k].chunk_len);
		}
	}

	sr->got = remote_readv(&s->r, iov, (size_t)n);
	if (sr->got < 0)
		return sr->got;
	if (sr->got < 1)
		return -EFAULT;
	*holder = have_gil && sr->got >= 2 ? gil_holder(s, gil, gil_len) : 0;
	s->spec_frame_buf = s->spec_buf + frames_at;
	s->spec_frames_read = sr->got <= frames_iov ? 0 :
			      (int)MIN((size_t)(sr->got - frames_iov), s->nspec_frames);
	s->nnext_spec_frames = 0;
	if (sr->got > codes_iov)
		codecache_preread(&s->cc, s->spec_code, s->spec_buf + codes_at,
				  MIN((size_t)(sr->got - codes_iov), s->nspec_codes));
	return 0;
}

/* The copy of thread state i read by read_shape, if it is `tstate`; pf
 * then holds the rest of what was read for that thread. */
static const uint8_t *shape_thread(struct session *s, const struct shape_read *sr, size_t i,
				   uint64_t tstate, struct prefetch *pf)
{
	if (i >= s->nspec || s->spec[i].tstate != tstate || sr->iov_ts[i] >= sr->got)
		return NULL;
	memset(pf, 0, sizeof(*pf));
	pf->have_fr = sr->iov_fr[i] >= 0 && sr->iov_fr[i] < sr->got;
	pf->cframe = s->spec[i].cframe;
	memcpy(&pf->fr, s->spec_buf + sr->fr_at[i], 8);
	if (sr->iov_tid[i] >= 0 && sr->iov_tid[i] < sr->got)
		memcpy(&pf->tid, s->spec_buf + sr->tid_at[i], 4);
	if (sr->iov_chunk[i] >= 0 && sr->iov_chunk[i] < sr->got) {
		pf->buf = s->spec_buf + sr->chunk_at[i];
		pf->chunk = s->spec[i].chunk;
		pf->chunk_len = s->spec[i].chunk_len;
	}
	return s->spec_buf + sr->ts_at[i];
}

/* Ids and GIL flag from a copy of a thread state. */
static void thread_from_state(const struct pyspy_layout *l, const uint8_t *ts, size_t tslen,
			      struct thread_walk *tw)
{
	tw->thread_id = field_ptr(ts, tslen, l->tstate.thread_id);
	tw->native_id = l->tstate.native_thread_id >= 0 ? field_i64(ts, tslen, l->tstate.native_thread_id) : 0;
	tw->holds_gil = -1;
	if (l->tstate.holds_gil >= 0)
		tw->holds_gil = field_i32(ts, tslen, l->tstate.holds_gil) != 0;
	else if (l->tstate.status >= 0 && l->tstate.status_holds_gil_mask)
		tw->holds_gil = (field_u32(ts, tslen, l->tstate.status) & l->tstate.status_holds_gil_mask) != 0;
}

/* Walk every thread state of the interpreter; *holder is the thread state
 * holding the GIL (0 if none or unknown). */
static int walk_all(struct session *s, uint32_t *errors, uint64_t *holder)
{
	const struct pyspy_layout *l = &s->t.layout;
	size_t tslen = (size_t)s->tstate_read;
	uint8_t ts_local[TSTATE_READ_MAX];
	struct shape_read sr;
	uint64_t tstate = 0;
	size_t spec_mark;
	struct chain c;
	int rc;

	s->nthreads = 0;
	s->nraw = 0;
	s->nraw_vars = 0; /* the variables read belong to the last walk only */
	s->visits = 0;
	s->list_cut = 0;
	rc = read_shape(s, &sr, &tstate, holder);
	if (rc)
		return rc;

	chain_init(&c);
	while (tstate) {
		struct thread_walk *tw;
		struct prefetch pf;
		const uint8_t *ts;

		if (chain_step(&c, tstate) || over_budget(s)) {
			if (s->nthreads == 0)
				return -ELOOP;
			/* A cycle or an endless list: keep the threads read so far. */
			s->list_cut = 1;
			(*errors)++;
			break;
		}
		ts = shape_thread(s, &sr, s->nthreads, tstate, &pf);
		if (!ts) {
			rc = remote_read(&s->r, tstate, ts_local, tslen);
			if (rc == -ESRCH || (rc && s->nthreads == 0))
				return rc;
			if (rc) {
				/* A garbage (or just freed) next pointer ends the list, not the sample. */
				(*errors)++;
				break;
			}
			ts = ts_local;
		}
		tw = new_thread(s);
		tw->tstate = tstate;
		thread_from_state(l, ts, tslen, tw);
		if (ts != ts_local && pf.tid > 0 && s->tid_offset >= 0 &&
		    s->spec[s->nthreads - 1].tid_at == tw->thread_id + (uint64_t)s->tid_offset)
			tw->spec_tid = pf.tid;
		tw->first = s->nraw;
		spec_mark = s->nnext_spec_frames;
		rc = walk_thread(s, ts, tslen, tw, ts == ts_local ? NULL : &pf);
		if (rc == -EAGAIN) {
			/* The program changed this stack while it was read (possible
			 * only without a pause): read it once more, afresh. */
			s->nraw = tw->first;
			tw->count = tw->depth = 0;
			s->nnext_spec_frames = spec_mark;
			rc = remote_read(&s->r, tstate, ts_local, tslen);
			if (rc == 0) {
				ts = ts_local;
				thread_from_state(l, ts, tslen, tw);
				s->afresh = 1;
				rc = walk_thread(s, ts, tslen, tw, NULL);
				s->afresh = 0;
			}
		}
		if (rc == -ESRCH)
			return rc;
		end_frames(s, tw);
		if (rc) {
			tw->truncated = 1;
			(*errors)++;
		}
		/* A cycle in the thread list ends the walk. */
		tstate = field_ptr(ts, tslen, l->tstate.next);
		if (tstate == s->threads[0].tstate)
			break;
	}
	remember_shape(s);
	return 0;
}

/* ---- kernel thread ids for <= 3.10 -------------------------------------- */

static int is_task(const struct pyspy_os_thread *os, size_t nos, int64_t tid)
{
	size_t i;

	for (i = 0; i < nos; i++) {
		if (os[i].tid == tid)
			return 1;
	}
	return 0;
}

/* pthread_t is a pointer to the thread's descriptor, which holds the kernel
 * tid at a libc-specific offset.  Find that offset without assuming a libc:
 * the offset at which the most descriptors hold distinct tids of this
 * process, the main thread's holding the pid.  Threads come and go while we
 * look (a new one may not be in the task list yet), so not every thread
 * has to match; the offset is kept once two or more threads agree on it. */
static void calibrate_tids(struct session *s, const struct pyspy_os_thread *os, size_t nos)
{
	size_t n = s->nthreads, i, k, best_count = 0;
	int32_t (*probe)[TID_PROBE_BYTES / 4];
	struct pyspy_iov *iov;
	int32_t best = -1;
	int got;

	if (n == 0 || n > 256)
		return;
	if (!os) {
		char err[256];

		/* Nonblocking mode had no need of the list until now. */
		if (remote_threads(&s->r, &os, &nos, err, sizeof(err)) < 0)
			return;
	}
	probe = xcalloc(n, sizeof(*probe));
	iov = xcalloc(n, sizeof(*iov));
	for (i = 0; i < n; i++) {
		iov[i].remote = s->threads[i].thread_id;
		iov[i].local = probe[i];
		iov[i].len = TID_PROBE_BYTES;
	}
	got = remote_readv(&s->r, iov, n);
	if (got <= 0)
		goto out_free;
	for (k = 0; k < TID_PROBE_BYTES / 4; k++) {
		size_t count = 0;
		int main_seen = 0;

		for (i = 0; i < (size_t)got; i++) {
			int32_t tid = probe[i][k];
			size_t j;
			int dup = 0;

			if (tid <= 0 || !is_task(os, nos, tid))
				continue;
			for (j = 0; j < i && !dup; j++)
				dup = probe[j][k] == tid;
			if (dup)
				continue;
			count++;
			main_seen |= tid == s->opt.pid;
		}
		if (main_seen && count > best_count) {
			best_count = count;
			best = (int32_t)(k * 4);
		}
	}
	if (best >= 0) {
		s->tid_offset = best;
		s->tid_offset_sure = best_count >= 2;
		log_debug("kernel thread id at pthread_t + %d (%zu threads agree)", best, best_count);
	}
out_free:
	free(iov);
	free(probe);
}

/* tid, read at pthread_t + tid_offset, if it names a task (when the task
 * list is at hand). */
static void set_native_id(struct thread_walk *tw, int32_t tid, const struct pyspy_os_thread *os, size_t nos)
{
	if (tid > 0 && (!os || is_task(os, nos, tid)))
		tw->native_id = tid;
}

static void resolve_native_ids(struct session *s, const struct pyspy_os_thread *os, size_t nos)
{
	size_t i;

	if (s->t.layout.tstate.native_thread_id >= 0 || s->nthreads == 0)
		return;
	/* Until two threads agree, look again whenever the thread count changes. */
	if (!s->tid_offset_sure && s->nthreads != s->tid_calibrated_with) {
		s->tid_calibrated_with = s->nthreads;
		calibrate_tids(s, os, nos);
	}
	if (s->tid_offset < 0)
		return;
	/* The speculative read got most; the others, one read per TID_BATCH. */
	for (i = 0; i < s->nthreads;) {
		struct pyspy_iov iov[TID_BATCH];
		int32_t tid[TID_BATCH];
		size_t who[TID_BATCH], n = 0, k;
		int got;

		for (; i < s->nthreads && n < TID_BATCH; i++) {
			struct thread_walk *tw = &s->threads[i];

			if (tw->spec_tid) {
				set_native_id(tw, tw->spec_tid, os, nos);
				continue;
			}
			who[n] = i;
			tid[n] = 0;
			iov[n].remote = tw->thread_id + (uint64_t)s->tid_offset;
			iov[n].local = &tid[n];
			iov[n].len = sizeof(tid[n]);
			n++;
		}
		/* A range that fails (a garbage descriptor) is skipped, not the rest. */
		for (k = 0; k < n; k += (size_t)got + 1) {
			got = remote_readv(&s->r, iov + k, n - k);
			if (got < 0) {
				memset(&tid[k], 0, (n - k) * sizeof(tid[0]));
				break;
			}
			if ((size_t)got < n - k)
				tid[k + (size_t)got] = 0; /* perhaps partly copied */
		}
		for (k = 0; k < n; k++)
			set_native_id(&s->threads[who[k]], tid[k], os, nos);
	}
}

/* ---- assembling the sample ----------------------------------------------- */

/* hint: where tid probably is (the lists follow the walk's order). */
static uint32_t os_state(const struct pyspy_os_thread *os, size_t nos, size_t hint, int64_t tid)
{
	size_t i;

	if (hint < nos && os[hint].tid == tid)
		return os[hint].state;
	for (i = 0; i < nos; i++) {
		if (os[i].tid == tid)
			return os[i].state;
	}
	return PYSPY_THREAD_UNKNOWN;
}

/*
 * The OS state of thread tid, asked for alone.  An answer younger than
 * OS_STATE_MAX_AGE_NS is reused (at rates above 200 Hz); threads are asked
 * about in the same order from sample to sample, so the k-th question of
 * this sample usually finds its answer k-th in the last one.
 */
static uint32_t thread_os_state(struct session *s, int64_t tid, uint64_t now)
{
	size_t i, k = s->nnext_ostates, old = s->nostates;
	struct os_state *e;
	int st;

	if (tid <= 0)
		return PYSPY_THREAD_UNKNOWN;
	if (k < s->nostates && s->ostates[k].tid == tid)
		old = k;
	for (i = 0; i < s->nostates && old == s->nostates; i++) {
		if (s->ostates[i].tid == tid)
			old = i;
	}
	if (s->nnext_ostates == s->cap_ostates) {
		s->cap_ostates = s->cap_ostates ? s->cap_ostates * 2 : 16;
		s->next_ostates = xrealloc(s->next_ostates, s->cap_ostates * sizeof(*s->next_ostates));
		s->ostates = xrealloc(s->ostates, s->cap_ostates * sizeof(*s->ostates));
	}
	e = &s->next_ostates[s->nnext_ostates++];
	if (old < s->nostates && now - s->ostates[old].read_ns < OS_STATE_MAX_AGE_NS) {
		*e = s->ostates[old];
		return e->state;
	}
	st = remote_thread_state(&s->r, tid);
	e->tid = tid;
	e->state = st < 0 ? PYSPY_THREAD_UNKNOWN : (uint32_t)st;
	e->read_ns = now;
	return e->state;
}

/* This sample's answers become the last sample's. */
static void keep_os_states(struct session *s)
{
	struct os_state *t = s->ostates;

	s->ostates = s->next_ostates;
	s->next_ostates = t;
	s->nostates = s->nnext_ostates;
	s->nnext_ostates = 0;
}

static void ensure_frames(struct session *s, size_t n)
{
	if (n > s->cap_frames) {
		s->cap_frames = n + 64;
		s->frames = xrealloc(s->frames, s->cap_frames * sizeof(*s->frames));
	}
}

/* The frame standing where n frames of a stack were left out. */
static void omitted_marker(struct session *s, struct pyspy_frame *fr, size_t n)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "[%zu frames omitted]", n);
	memset(fr, 0, sizeof(*fr));
	fr->name = intern(&s->strings, buf);
	fr->filename = fr->short_filename = intern(&s->strings, "");
	fr->flags = PYSPY_FRAME_OMITTED;
}

static const char *thread_frame_name(struct session *s, const struct thread_walk *tw, const char *name)
{
	char buf[256];

	if (tw->native_id && name)
		snprintf(buf, sizeof(buf), "thread (%lld): %s", (long long)tw->native_id, name);
	else if (tw->native_id)
		snprintf(buf, sizeof(buf), "thread (%lld)", (long long)tw->native_id);
	else if (name)
		snprintf(buf, sizeof(buf), "thread (%#llX): %s", (unsigned long long)tw->thread_id, name);
	else
		snprintf(buf, sizeof(buf), "thread (%#llX)", (unsigned long long)tw->thread_id);
	return intern(&s->strings, buf);
}

/*
 * os/nos: the OS threads read before the walk; with ask_each instead, the
 * threads that do not hold the GIL are asked about one by one.  A thread
 * that holds the GIL is active whatever the OS says of it: it runs Python
 * code, or blocks every thread that would.
 */
static void build_stacks(struct session *s, const struct pyspy_os_thread *os, size_t nos, uint64_t holder,
			 int ask_each, uint64_t now, struct session_sample *out)
{
	struct code_entry *e = NULL;
	uint64_t last_code = 0;
	size_t i, f = 0, k;

	/* room for a thread pseudo-frame and an omission marker per thread */
	ensure_frames(s, s->nraw + 2 * s->nthreads);
	if (s->cap_stacks < s->nthreads) {
		s->cap_stacks = s->nthreads + 16;
		s->stacks = xrealloc(s->stacks, s->cap_stacks * sizeof(*s->stacks));
	}
	/* The list is newest first; the main thread comes first in the output. */
	for (k = 0; k < s->nthreads; k++) {
		const struct thread_walk *tw = &s->threads[s->nthreads - 1 - k];
		struct pyspy_stack *st = &s->stacks[k];
		uint32_t state;

		memset(st, 0, sizeof(*st));
		st->frame_size = sizeof(struct pyspy_frame);
		st->pid = s->opt.pid;
		st->thread_id = tw->thread_id;
		st->os_thread_id = tw->native_id;
		st->owns_gil = tw->holds_gil >= 0 ? (uint8_t)tw->holds_gil : (holder && holder == tw->tstate);
		if (holder && holder == tw->tstate)
			st->owns_gil = 1;
		if (st->owns_gil)
			state = PYSPY_THREAD_RUNNING;
		else if (ask_each)
			state = thread_os_state(s, tw->native_id, now);
		else
			state = os_state(os, nos, s->nthreads - 1 - k, tw->native_id);
		/* a core tells no OS states: active is "unknown" there */
		st->active = !s->opt.core && state == PYSPY_THREAD_RUNNING;
		st->truncated = (uint8_t)tw->truncated;
		st->thread_name = thread_names_get(&s->names, tw->thread_id);
		st->frames = &s->frames[f];
		for (i = 0; i < tw->count; i++) {
			size_t r = tw->first + i;
			struct pyspy_frame *fr = &s->frames[f];
			int line;

			if (tw->omitted && i == KEEP_LEAF) {
				omitted_marker(s, fr, tw->omitted);
				out->frames_omitted += tw->omitted;
				out->stacks_omitting++;
				fr = &s->frames[++f];
			}
			/* Recursion repeats a code object: look it up once. */
			if (s->raw_code[r] != last_code) {
				last_code = s->raw_code[r];
				e = codecache_get(&s->cc, last_code);
			}
			if (!e) {
				st->truncated = 1;
				out->errors++;
				continue;
			}
			line = s->opt.by_function ? e->firstlineno : codecache_line(&s->cc, e, s->raw_addr[r]);
			fr->name = e->name;
			fr->filename = e->filename;
			fr->short_filename = e->short_filename;
			fr->line = !s->opt.show_lines || line < 0 ? 0 : line;
			fr->flags = 0;
			fr->first_line = e->firstlineno > 0 ? e->firstlineno : 0;
			fr->reserved = 0;
			fr->locals = r < s->nraw_vars && s->raw_nvars[r] ? s->raw_vars[r] : NULL;
			fr->nlocals = fr->locals ? s->raw_nvars[r] : 0;
			fr->local_size = sizeof(struct pyspy_local);
			f++;
		}
		if (s->opt.thread_frames) {
			struct pyspy_frame *fr = &s->frames[f++];

			memset(fr, 0, sizeof(*fr));
			fr->name = thread_frame_name(s, tw, st->thread_name);
			fr->filename = fr->short_filename = intern(&s->strings, "");
			fr->flags = PYSPY_FRAME_THREAD;
		}
		st->nframes = (uint32_t)(&s->frames[f] - st->frames);
	}
	if (ask_each)
		keep_os_states(s);
	out->stacks = s->stacks;
	out->nstacks = s->nthreads;
	out->thread_list_cut = s->list_cut;
}

/* The code objects of this sample, for the next one's speculative read. */
static void remember_codes(struct session *s)
{
	size_t i, j;

	s->nspec_codes = 0;
	for (i = 0; i < s->nraw && s->nspec_codes < SPEC_CODES; i++) {
		uint64_t code = s->raw_code[i];
		int dup = code == 0;

		for (j = 0; j < s->nspec_codes && !dup; j++)
			dup = s->spec_code[j] == code;
		if (!dup)
			s->spec_code[s->nspec_codes++] = code;
	}
}

/* --locals: every frame's variables, read while the target is paused (the
 * frames' memory is what the walk just found). */
static void read_locals(struct session *s)
{
	size_t i;

	locals_reset(&s->locals);
	s->raw_vars = xrealloc(s->raw_vars, (s->nraw ? s->nraw : 1) * sizeof(*s->raw_vars));
	s->raw_nvars = xrealloc(s->raw_nvars, (s->nraw ? s->nraw : 1) * sizeof(*s->raw_nvars));
	for (i = 0; i < s->nraw; i++) {
		if (locals_read(&s->locals, s->raw_frame[i], s->raw_code[i], &s->raw_vars[i],
				&s->raw_nvars[i]) != 0) {
			s->raw_vars[i] = NULL;
			s->raw_nvars[i] = 0;
		}
	}
	s->nraw_vars = s->nraw;
}

/* Whether this sample asks the OS about threads one by one, after the walk
 * (see session_sample). */
static int ask_each_thread(const struct session *s)
{
	int known_ids = s->t.layout.tstate.native_thread_id >= 0 || s->tid_offset_sure ||
			/* one thread, whose id is the process id */
			(s->tid_offset >= 0 && s->nthreads == 1 && s->threads[0].native_id == s->opt.pid);

	return s->opt.nonblocking && remote_has_thread_state(&s->r) && known_ids;
}

/*
 * A sample failed (failed = 1) or found no thread at all: has the process
 * executed a new program?  The interpreter is looked for again (at most
 * every EXEC_CHECK_NS); a different one found takes the place of the old
 * one, with a one-line notice, and 1 is returned: take the sample afresh.
 * 0: nothing changed (a stack that changed while it was read, say).  After
 * failed samples only: if no interpreter turns up within EXEC_WAIT_NS (a
 * program that is not Python), -ENOEXEC, said once.  -ESRCH: it is gone.
 */
static int look_for_exec(struct session *s, int failed)
{
	uint64_t now = host_now_ns();
	char err[512];
	int changed = 0, rc;

	if (s->exec_check_ns && now - s->exec_check_ns < EXEC_CHECK_NS)
		return 0;
	s->exec_check_ns = now;
	rc = session_rediscover(s, &changed, err, sizeof(err));
	if (rc == 0) {
		s->exec_seen_ns = 0;
		if (changed)
			log_warn("process %lld executed a new program: found Python %s again (%s)",
				 (long long)s->opt.pid, s->t.version_str, s->t.bin_path);
		return changed;
	}
	if (rc == -ESRCH || remote_alive(&s->r, NULL) == 0)
		return -ESRCH;
	if (!failed)
		return 0;
	/* No interpreter now: a new program, or Python still starting. */
	if (!s->exec_seen_ns)
		s->exec_seen_ns = now;
	if (now - s->exec_seen_ns < EXEC_WAIT_NS)
		return 0;
	log_error("%s", err);
	return -ENOEXEC;
}

/*
 * The walk of one sample, holding every thread of the process (blocking
 * mode with a backend that cannot stop chosen threads, or kernel thread
 * ids unknown) or none (nonblocking).  os, nos: the OS threads read
 * before the walk, unless ask_each.
 */
static int walk_all_or_none(struct session *s, struct session_sample *out, uint64_t *holder,
			    int ask_each, const struct pyspy_os_thread **os, size_t *nos)
{
	uint64_t t0 = host_now_ns();
	char err[256];
	int rc, paused = 0;

	/* The OS thread states.  A paused task reads 't', so blocking mode reads
	 * them all before the pause.  Nonblocking mode asks after the walk, and
	 * only about the threads that do not hold the GIL (build_stacks), as
	 * long as it knows their kernel ids.  Each answer costs a system call,
	 * the most expensive part of a fast sample: above 200 Hz one is
	 * reused for OS_STATE_MAX_AGE_NS. */
	if (!ask_each) {
		if (!s->os_read_ns || t0 - s->os_read_ns >= OS_STATE_MAX_AGE_NS) {
			s->os_read_ns = t0;
			if (remote_threads(&s->r, &s->os, &s->nos, err, sizeof(err)) < 0) {
				s->os = NULL;
				s->nos = 0;
			}
		}
		*os = s->os;
		*nos = s->nos;
	}
	if (!s->opt.nonblocking) {
		t0 = host_now_ns();
		rc = remote_pause(&s->r, err, sizeof(err));
		if (rc == -ESRCH)
			return rc;
		if (rc == -ETIMEDOUT) {
			log_debug("%s", err);
			return rc;
		}
		paused = rc == 0;
	}
	rc = walk_all(s, &out->errors, holder);
	if (rc == 0 && s->locals_ok)
		read_locals(s);
	if (paused) {
		remote_resume(&s->r);
		out->paused_ns = host_now_ns() - t0;
	}
	if (rc == 0)
		resolve_native_ids(s, *os, *nos);
	return rc;
}

/* The kernel ids of the threads just walked into s->walk_tids; 0 if one
 * is unknown (it could not be held by id). */
static int walk_ids(struct session *s)
{
	size_t i;

	if (s->cap_walk_tids < s->nthreads) {
		s->cap_walk_tids = s->nthreads + 16;
		s->walk_tids = xrealloc(s->walk_tids, s->cap_walk_tids * sizeof(*s->walk_tids));
	}
	for (i = 0; i < s->nthreads; i++) {
		if (s->threads[i].native_id <= 0)
			return 0;
		s->walk_tids[i] = s->threads[i].native_id;
	}
	return 1;
}

/* Whether every thread just walked was in the set the hold chose from. */
static int walk_was_known(const struct session *s)
{
	size_t i;

	for (i = 0; i < s->nthreads; i++) {
		if (!holdset_has(&s->hold, i, s->walk_tids[i]))
			return 0;
	}
	return 1;
}

/* Hold the threads of s->hold.pick and walk.  The hold is counted from the
 * first stop the backend saw until it let go. */
static int walk_held_once(struct session *s, struct session_sample *out, uint64_t *holder,
			  uint64_t hold_ns)
{
	struct pyspy_hold hold;
	uint64_t t0, t1;
	char err[256];
	int rc;

	memset(&hold, 0, sizeof(hold));
	hold.size = sizeof(hold);
	hold.wait_ns = HOLD_WAIT_NS;
	hold.hold_ns = hold_ns;
	rc = remote_pause_threads(&s->r, s->hold.pick, s->hold.npick, &hold, err, sizeof(err));
	t0 = host_now_ns();
	if (rc < 0) {
		log_debug("%s", err);
		return rc;
	}
	if (hold.stopped_ns && hold.stopped_ns < t0)
		t0 = hold.stopped_ns;
	s->gil_last = gil_last_holder_now(s);
	if (rc > 0) {
		/* Another tracer has a thread: read it unheld, and count it. */
		out->errors += (uint32_t)rc;
		if (!s->hold_warned++)
			log_warn("%s; its stack is read without holding it", err);
	}
	rc = walk_all(s, &out->errors, holder);
	if (rc == 0 && s->locals_ok)
		read_locals(s);
	s->gil_last_after = rc == 0 ? gil_last_holder_now(s) : 0;
	remote_resume(&s->r);
	/* Until the backend let go: once back at the normal scheduling
	 * policy, py-spy may wait for a CPU before it reads the clock. */
	t1 = hold.released_ns ? hold.released_ns : host_now_ns();
	out->paused_ns += t1 > t0 ? t1 - t0 : 0;
	return rc;
}

/* Kernel id of the thread whose state is tstate in the walk just made, 0
 * if none or unknown. */
static int64_t tid_of(const struct session *s, uint64_t tstate)
{
	size_t i;

	for (i = 0; tstate && i < s->nthreads; i++) {
		if (s->threads[i].tstate == tstate)
			return s->threads[i].native_id;
	}
	return 0;
}

/* Whether no Python stack could change during a walk that held only some
 * threads: the thread that took the GIL last was held, and it was still
 * the last to take it when the walk ended (any other thread would have had
 * to take the GIL to change a Python stack). */
static int partial_hold_consistent(const struct session *s)
{
	return s->gil_last && s->gil_last == s->gil_last_after &&
	       holdset_picked(&s->hold, tid_of(s, s->gil_last));
}

/*
 * Blocking mode with a backend that stops chosen threads.  Only threads
 * that run Python code are ever stopped (native threads keep running),
 * known by the kernel ids the last walk found; and of these only the ones
 * that must: a thread changes its Python stack only while it holds the
 * GIL, so while the thread that took the GIL last is stopped and no other
 * takes it, no stack changes.  A hold stops the threads the OS says run
 * (their states are read just before: a held task reads as stopped) and
 * the last GIL holder; sleeping threads are not woken.  If the GIL changed
 * hands during the walk, or the layout cannot tell (no GIL), the sample is
 * taken again stopping every Python thread.  A walk that meets a thread it
 * did not know (a new one; every thread at the first sample, which walks
 * without a hold to learn them) is taken again too.  -ENOENT: a kernel id
 * is unknown, so the sample must hold every thread of the process.
 */
static int walk_python_held(struct session *s, struct session_sample *out, uint64_t *holder)
{
	uint64_t timeout = s->opt.hold_timeout_ns ? s->opt.hold_timeout_ns : HOLD_TIMEOUT_NS;
	int rc, walks, all = 0;

	for (walks = 0; walks < HOLD_WALKS; walks++) {
		out->errors = 0;
		out->paused_ns = 0;
		if (s->hold.n) {
			holdset_ask_states(&s->hold, &s->r, host_now_ns(), OS_STATE_MAX_AGE_NS);
			if (!holdset_pick(&s->hold, all, s->gil_tid)) {
				all = 1; /* none runs, and no GIL holder is known */
				holdset_pick(&s->hold, 1, 0);
			}
			rc = walk_held_once(s, out, holder, timeout);
		} else {
			rc = walk_all(s, &out->errors, holder);
		}
		if (rc)
			return rc;
		resolve_native_ids(s, NULL, 0);
		if (!walk_ids(s))
			return -ENOENT;
		if (!s->hold.n || !walk_was_known(s)) {
			holdset_assign(&s->hold, s->walk_tids, s->nthreads);
			continue;
		}
		s->gil_tid = tid_of(s, s->gil_last);
		if (all || partial_hold_consistent(s)) {
			holdset_assign(&s->hold, s->walk_tids, s->nthreads);
			return 0;
		}
		log_debug("the GIL changed hands during a partial hold (last holder %#llx, then %#llx): "
			  "every Python thread is stopped for this sample",
			  (unsigned long long)s->gil_last, (unsigned long long)s->gil_last_after);
		all = 1; /* the GIL changed hands, or its holder ran on */
	}
	return 0; /* threads keep coming: the last walk stands */
}

int session_sample(struct session *s, struct session_sample *out)
{
	const struct pyspy_os_thread *os = NULL;
	size_t nos = 0, i;
	uint64_t holder = 0, now;
	int rc = -ENOENT, found, ask_each = ask_each_thread(s);

	memset(out, 0, sizeof(*out));
	s->nsamples++;
	now = host_now_ns();
	if (!s->opt.nonblocking && remote_has_pause_threads(&s->r) && remote_has_thread_state(&s->r)) {
		rc = walk_python_held(s, out, &holder);
		os = s->hold.os;
		nos = s->hold.nos;
	}
	if (rc == -ENOENT) {
		memset(out, 0, sizeof(*out));
		os = NULL;
		nos = 0;
		rc = walk_all_or_none(s, out, &holder, ask_each, &os, &nos);
	}
	if (rc) {
		if (rc != -ESRCH && rc != -ETIMEDOUT && remote_alive(&s->r, NULL) == 0)
			rc = -ESRCH;
		if (rc == -ESRCH)
			return rc;
		/* A sample given up (threads not stopped in time) may be a new
		 * program's too, but is no sign that it is not Python. */
		found = look_for_exec(s, rc != -ETIMEDOUT);
		if (found == 1)
			return session_sample(s, out);
		return found < 0 ? found : rc;
	}
	if (s->nthreads == 0 && look_for_exec(s, 0) == 1)
		return session_sample(s, out);

	if (s->opt.gil_only) {
		size_t keep = 0;

		for (i = 0; i < s->nthreads; i++) {
			struct thread_walk *tw = &s->threads[i];
			int gil = tw->holds_gil >= 0 ? tw->holds_gil : (holder && holder == tw->tstate);

			if (gil)
				s->threads[keep++] = *tw;
		}
		s->nthreads = keep;
	}
	codecache_begin(&s->cc);
	codecache_prepare(&s->cc, s->raw_code, s->nraw);
	remember_codes(s);
	build_stacks(s, os, nos, holder, ask_each, now, out);
	return 0;
}
