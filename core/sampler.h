/*
 * The run loop shared by record and top: samples the session at a given
 * rate with random jitter, feeds the outputs, and stops on target exit,
 * Ctrl-C, SIGTERM, the end of the duration, an output asking to quit or a
 * closed stdout.  Live outputs (top) also get timer, resize and input
 * events.
 */
#ifndef PYSPY_CORE_SAMPLER_H
#define PYSPY_CORE_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/output.h>

#include "outputs.h"
#include "session.h"

enum sampler_stop {
	SAMPLER_RUNNING = 0,
	SAMPLER_STOP_EXITED,     /* the target exited */
	SAMPLER_STOP_INTERRUPT,  /* SIGINT */
	SAMPLER_STOP_TERM,       /* SIGTERM */
	SAMPLER_STOP_DURATION,   /* -d elapsed */
	SAMPLER_STOP_QUIT,       /* an output asked to quit (top's 'q') */
	SAMPLER_STOP_PIPE,       /* the reader of stdout went away */
	SAMPLER_STOP_ERROR,      /* sampling or an output failed */
	SAMPLER_STOP_NOT_PYTHON, /* the target executed a program that is not Python */
};

/* Rates above this are refused (the schedule's arithmetic is exact up to
 * far beyond it; no target can be sampled this fast anyway). */
#define SAMPLER_MAX_RATE 1000000

struct sampler_options {
	double rate;             /* samples per second */
	double duration_s;       /* 0: until the target exits or a signal */
	double tick_s;           /* 0: no PYSPY_EVENT_TICK; else its period */
	int idle;                /* keep idle threads */
	int gil;                 /* keep only the GIL holder */
	int live;                /* deliver events (top) */
	int input_fd;            /* PYSPY_EVENT_INPUT source, -1 if none */
	int report_lag;          /* print "behind in sampling" warnings */
	/* Extra check that the target still runs (a spawned child), or NULL. */
	int (*alive)(void *ctx);
	void *alive_ctx;
};

/* Hold times per sample, in buckets of 1/8 of a power of two (each bound
 * within 12.5%). */
#define SAMPLER_HOLD_BUCKETS 512

struct sampler_stats {
	uint64_t ticks;          /* sampling instants */
	uint64_t samples;        /* per-thread stacks recorded */
	uint64_t errors;         /* failed samples + failed thread walks */
	uint64_t failed;         /* sampling instants that failed entirely */
	uint64_t truncated;      /* recorded stacks that were cut short */
	uint64_t gave_up;        /* instants given up: threads not stopped in time */
	uint64_t frames_omitted; /* frames left out of deep stacks (marked) */
	uint64_t stacks_omitting; /* stacks that left frames out */
	uint64_t lists_cut;      /* samples that did not read every thread */
	uint64_t paused_ns;      /* total time the target was held stopped */
	uint64_t holds;          /* samples that held the target */
	uint32_t hold_hist[SAMPLER_HOLD_BUCKETS];
	uint64_t start_ns;
	uint64_t end_ns;
	double max_lag_s;
	enum sampler_stop stop;
	uint64_t taken;          /* sampling instants that read the target */
};

/* Run until a stop condition; stats say why.  Returns 0, or a negative
 * errno when the loop itself could not run. */
int sampler_run(struct session *s, struct outputs *o, const struct sampler_options *opt,
		struct sampler_stats *st);

/* After the target exited (live outputs): send PYSPY_EVENT_TARGET_EXIT and
 * keep delivering input until an output quits, Ctrl-C or SIGTERM.  Returns
 * at once without an input fd. */
void sampler_linger(struct outputs *o, const struct sampler_options *opt,
		    const struct sampler_stats *st);

/* Count one hold of ns nanoseconds; the hold that q (0..1) of them do not
 * exceed, to within 12.5% (0 if none was counted). */
void sampler_count_hold(struct sampler_stats *st, uint64_t ns);
uint64_t sampler_hold_quantile(const struct sampler_stats *st, double q);

/* "process exited", "Control-C pressed", ... */
const char *sampler_stop_reason(enum sampler_stop stop);

/* Deadline of sampling instant k: instant k falls at a random point u in
 * [0, 1) of its own period [k, k+1) / rate, measured from start, so that
 * the mean rate is exact whatever the jitter. */
uint64_t sampler_deadline(uint64_t start_ns, double rate, uint64_t k, double u);

/* Keep the stacks py-spy keeps: idle threads only with idle, only the GIL
 * holder with gil, never a stack without frames.  out has room for n; returns how many were kept. */
size_t sampler_filter(const struct pyspy_stack *in, size_t n, int idle, int gil,
		      struct pyspy_stack *out);

#endif /* PYSPY_CORE_SAMPLER_H */
