/*
 * The run loop of record and top (see sampler.h).
 *
 * Sampling instant k is due at start + (k + u_k) / rate with u_k uniform in
 * [0, 1): every instant falls at a random point of its own period (no
 * aliasing with periodic work in the target) while the schedule stays
 * cumulative, so the mean rate is the requested one to within one sample
 * whatever the jitter.  A sample taken late does not move the schedule:
 * the loop catches up, and reports when it is more than a second behind.
 *
 * All waiting is host_wait_until on an absolute deadline; it also returns
 * on a signal (the handlers only set flags) and on input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "sampler.h"
#include "util.h"

#define NS_PER_S 1000000000ull
/* How often the target's liveness is checked besides failed samples. */
#define ALIVE_CHECK_NS (200ull * 1000000ull)
/* Lag worth a warning, and the least time between two warnings. */
#define LAG_WARN_NS NS_PER_S
#define LAG_REPORT_EVERY_NS NS_PER_S
/* More input events than this in a second: the fd is stuck readable
 * (hang-up); stop polling it rather than spin. */
#define INPUT_STORM 1000

const char *sampler_stop_reason(enum sampler_stop stop)
{
	switch (stop) {
	case SAMPLER_RUNNING: return "still running";
	case SAMPLER_STOP_EXITED: return "process exited";
	case SAMPLER_STOP_INTERRUPT: return "Control-C pressed";
	case SAMPLER_STOP_TERM: return "py-spy was terminated (SIGTERM)";
	case SAMPLER_STOP_DURATION: return "the duration elapsed";
	case SAMPLER_STOP_QUIT: return "quit was requested";
	case SAMPLER_STOP_PIPE: return "the output pipe was closed";
	case SAMPLER_STOP_ERROR: return "of an error";
	case SAMPLER_STOP_NOT_PYTHON: return "the process executed a program that is not Python";
	}
	return "?";
}

static unsigned hold_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < 8)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	return 8u * (e - 2u) + (unsigned)((ns >> (e - 3u)) & 7u);
}

/* The middle of bucket b. */
static uint64_t hold_bucket_mid(unsigned b)
{
	unsigned e = b / 8u + 2u;

	if (b < 8)
		return b;
	return ((uint64_t)(8u + b % 8u) << (e - 3u)) + ((1ull << (e - 3u)) >> 1);
}

void sampler_count_hold(struct sampler_stats *st, uint64_t ns)
{
	st->hold_hist[hold_bucket(ns)]++;
	st->holds++;
}

uint64_t sampler_hold_quantile(const struct sampler_stats *st, double q)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (!st->holds)
		return 0;
	want = (uint64_t)(q * (double)st->holds);
	if (want >= st->holds)
		want = st->holds - 1;
	for (b = 0; b < SAMPLER_HOLD_BUCKETS; b++) {
		seen += st->hold_hist[b];
		if (seen > want)
			return hold_bucket_mid(b);
	}
	return 0;
}

uint64_t sampler_deadline(uint64_t start_ns, double rate, uint64_t k, double u)
{
	if (u < 0.0)
		u = 0.0;
	if (u >= 1.0)
		u = 0.999999;
	return start_ns + (uint64_t)(((double)k + u) * 1e9 / rate);
}

size_t sampler_filter(const struct pyspy_stack *in, size_t n, int idle, int gil,
		      struct pyspy_stack *out)
{
	size_t i, kept = 0;

	for (i = 0; i < n; i++) {
		if (gil && !in[i].owns_gil)
			continue;
		if (!idle && !in[i].active)
			continue;
		/* Nothing to show (a thread starting or ending). */
		if (in[i].nframes == 0)
			continue;
		out[kept++] = in[i];
	}
	return kept;
}

/* State of one run, shared by the helpers below. */
struct run {
	struct session *s;
	struct outputs *o;
	const struct sampler_options *opt;
	struct sampler_stats *st;
	struct pyspy_stack *kept;   /* filtered stacks of one sample */
	size_t kept_cap;
	uint64_t last_lag_report;
	uint64_t input_window;      /* start of the current input-storm window */
	unsigned input_count;
	int input_fd;
};

static void stop(struct run *r, enum sampler_stop why)
{
	if (r->st->stop == SAMPLER_RUNNING)
		r->st->stop = why;
}

static int target_alive(struct run *r)
{
	if (r->opt->alive && !r->opt->alive(r->opt->alive_ctx))
		return 0;
	return session_alive(r->s) != 0;
}

static void send_event(struct run *r, uint32_t type, const char *message)
{
	struct pyspy_event ev;
	int rc;

	if (!r->opt->live)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.size = sizeof(ev);
	ev.type = type;
	ev.time_ns = host_now_ns() - r->st->start_ns;
	ev.message = message;
	rc = outputs_event(r->o, &ev);
	if (rc == PYSPY_QUIT)
		stop(r, SAMPLER_STOP_QUIT);
	else if (rc == -EPIPE)
		stop(r, SAMPLER_STOP_PIPE);
	else if (rc < 0)
		stop(r, SAMPLER_STOP_ERROR);
}

/* Act on the signals that arrived. */
static void take_signals(struct run *r)
{
	unsigned sig = host_signals_take();

	if (sig & HOST_SIG_INT)
		stop(r, SAMPLER_STOP_INTERRUPT);
	if (sig & HOST_SIG_TERM)
		stop(r, SAMPLER_STOP_TERM);
	if (sig & HOST_SIG_PIPE)
		stop(r, SAMPLER_STOP_PIPE);
	/* SIGCHLD comes with every stop of a paused target too: only a program
	 * we spawned can have exited because of it (an attached one is checked
	 * every ALIVE_CHECK_NS). */
	if ((sig & HOST_SIG_CHLD) && r->opt->alive && !target_alive(r))
		stop(r, SAMPLER_STOP_EXITED);
	if ((sig & HOST_SIG_WINCH) && r->st->stop == SAMPLER_RUNNING)
		send_event(r, PYSPY_EVENT_RESIZE, NULL);
}

static void input_ready(struct run *r, uint64_t now)
{
	if (now - r->input_window >= NS_PER_S) {
		r->input_window = now;
		r->input_count = 0;
	}
	if (++r->input_count > INPUT_STORM) {
		log_debug("input fd %d stays readable; no longer polling it", r->input_fd);
		r->input_fd = -1;
		return;
	}
	send_event(r, PYSPY_EVENT_INPUT, NULL);
}

static void report_lag(struct run *r, uint64_t now, uint64_t lag_ns)
{
	if (!r->opt->report_lag || lag_ns < LAG_WARN_NS)
		return;
	if (r->last_lag_report && now - r->last_lag_report < LAG_REPORT_EVERY_NS)
		return;
	r->last_lag_report = now;
	log_status("%.2fs behind in sampling, results may be inaccurate. "
		   "Try reducing the sampling rate", (double)lag_ns / 1e9);
}

/* One sampling instant that was due at `due`; it is `now`. */
static void take_sample(struct run *r, uint64_t due, uint64_t now)
{
	struct sampler_stats *st = r->st;
	struct session_sample ss;
	struct pyspy_sample sample;
	uint64_t lag = now > due ? now - due : 0;
	size_t n, i;
	int rc;

	report_lag(r, now, lag);
	if ((double)lag / 1e9 > st->max_lag_s)
		st->max_lag_s = (double)lag / 1e9;
	st->ticks++;
	memset(&ss, 0, sizeof(ss));
	rc = session_sample(r->s, &ss);
	if (rc == -ESRCH) {
		stop(r, SAMPLER_STOP_EXITED);
		return;
	}
	if (rc == -ETIMEDOUT) {
		/* Its threads did not all stop in time: nothing was read. */
		st->gave_up++;
		st->errors++;
		return;
	}
	if (rc == -ENOEXEC) {
		stop(r, SAMPLER_STOP_NOT_PYTHON);
		return;
	}
	if (rc < 0) {
		st->failed++;
		st->errors++;
		if (!target_alive(r))
			stop(r, SAMPLER_STOP_EXITED);
		return;
	}
	st->taken++;
	st->paused_ns += ss.paused_ns;
	if (ss.paused_ns)
		sampler_count_hold(st, ss.paused_ns);
	st->errors += ss.errors;
	st->frames_omitted += ss.frames_omitted;
	st->stacks_omitting += ss.stacks_omitting;
	st->lists_cut += ss.thread_list_cut != 0;

	if (ss.nstacks > r->kept_cap) {
		r->kept_cap = ss.nstacks;
		r->kept = xrealloc(r->kept, r->kept_cap * sizeof(*r->kept));
	}
	/* A live view counts every thread (its Threads and Active figures) and
	 * applies --idle and --gil itself. */
	if (r->opt->live)
		n = sampler_filter(ss.stacks, ss.nstacks, 1, 0, r->kept);
	else
		n = sampler_filter(ss.stacks, ss.nstacks, r->opt->idle, r->opt->gil, r->kept);
	for (i = 0; i < n; i++)
		st->truncated += r->kept[i].truncated != 0;
	st->samples += n;

	memset(&sample, 0, sizeof(sample));
	sample.size = sizeof(sample);
	sample.nstacks = (uint32_t)n;
	sample.stack_size = sizeof(*r->kept);
	sample.stacks = r->kept;
	sample.time_ns = now - st->start_ns;
	sample.lag_s = (double)lag / 1e9;
	sample.errors = ss.errors;
	if (outputs_sample(r->o, &sample) == -EPIPE)
		stop(r, SAMPLER_STOP_PIPE);
}

int sampler_run(struct session *s, struct outputs *o, const struct sampler_options *opt,
		struct sampler_stats *st)
{
	struct run r;
	uint64_t now, next, end = 0, tick = 0, tick_next = 0, alive_next, k = 0;

	if (!(opt->rate > 0.0) || opt->rate > SAMPLER_MAX_RATE)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	memset(&r, 0, sizeof(r));
	r.s = s;
	r.o = o;
	r.opt = opt;
	r.st = st;
	r.input_fd = opt->input_fd;

	now = st->start_ns = host_now_ns();
	if (opt->duration_s > 0)
		end = now + (uint64_t)(opt->duration_s * 1e9);
	if (opt->live && opt->tick_s > 0) {
		tick = (uint64_t)(opt->tick_s * 1e9);
		tick_next = now + tick;
	}
	alive_next = now + ALIVE_CHECK_NS;
	next = sampler_deadline(st->start_ns, opt->rate, k, host_random());

	while (st->stop == SAMPLER_RUNNING) {
		uint64_t wake = next;
		int rc;

		if (end && end < wake)
			wake = end;
		if (tick_next && tick_next < wake)
			wake = tick_next;
		/* At low rates, still notice soon that the target is gone. */
		if (alive_next < wake)
			wake = alive_next;
		rc = host_wait_until(wake, r.input_fd);
		now = host_now_ns();
		take_signals(&r);
		if (st->stop != SAMPLER_RUNNING)
			break;
		if (rc == 1)
			input_ready(&r, now);
		if (end && now >= end) {
			stop(&r, SAMPLER_STOP_DURATION);
			break;
		}
		if (tick_next && now >= tick_next) {
			send_event(&r, PYSPY_EVENT_TICK, NULL);
			tick_next += tick;
			if (tick_next <= now)
				tick_next = now + tick;
		}
		if (now >= alive_next) {
			alive_next = now + ALIVE_CHECK_NS;
			if (!target_alive(&r))
				stop(&r, SAMPLER_STOP_EXITED);
		}
		if (st->stop == SAMPLER_RUNNING && now >= next) {
			take_sample(&r, next, now);
			k++;
			next = sampler_deadline(st->start_ns, opt->rate, k, host_random());
		}
	}
	st->end_ns = host_now_ns();
	free(r.kept);
	return 0;
}

void sampler_linger(struct outputs *o, const struct sampler_options *opt,
		    const struct sampler_stats *st)
{
	struct sampler_stats after = *st;
	struct run r;

	if (!opt->live)
		return;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.opt = opt;
	r.st = &after;
	r.input_fd = opt->input_fd;
	after.stop = SAMPLER_RUNNING;
	send_event(&r, PYSPY_EVENT_TARGET_EXIT, sampler_stop_reason(st->stop));

	while (after.stop == SAMPLER_RUNNING && r.input_fd >= 0) {
		int rc = host_wait_until(host_now_ns() + NS_PER_S, r.input_fd);
		unsigned sig = host_signals_take();

		if (sig & (HOST_SIG_INT | HOST_SIG_TERM | HOST_SIG_PIPE))
			break;
		if (sig & HOST_SIG_WINCH)
			send_event(&r, PYSPY_EVENT_RESIZE, NULL);
		if (rc == 1)
			input_ready(&r, host_now_ns());
	}
}
