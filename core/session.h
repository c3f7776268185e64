/*
 * A session: one attached Python process, its interpreter found and its
 * layout chosen, ready to be sampled.  session_sample walks every thread
 * (pausing the process unless nonblocking) and returns one stack per
 * Python thread, innermost frame first.
 */
#ifndef PYSPY_CORE_SESSION_H
#define PYSPY_CORE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/output.h>

#include "plugins.h"

struct session_options {
	int64_t pid;
	const char *core;    /* read this core file in place of attaching to pid */
	const char *core_root; /* the core's binaries are under this folder */
	int nonblocking;     /* never pause the target */
	int show_lines;      /* 0: every frame's line is 0 (--nolineno) */
	int by_function;     /* line = co_firstlineno (-F) */
	int thread_frames;   /* add a root pseudo-frame per thread (-t) */
	int gil_only;        /* walk only the thread holding the GIL (-g) */
	double wait_s;       /* keep retrying discovery this long (spawned programs) */
	/* Longest time one stopped thread is held while the others are waited
	 * for (the sample is then given up); 0: 10 ms. */
	uint64_t hold_timeout_ns;
	int locals;          /* dump --locals: read each frame's variables (2: longer reprs) */
};

struct session_sample {
	const struct pyspy_stack *stacks; /* valid until the next session_sample */
	size_t nstacks;
	uint32_t errors;     /* threads whose walk failed or was cut short */
	uint64_t frames_omitted; /* frames left out of deep stacks (a marker frame
				  * stands where they were) */
	uint32_t stacks_omitting; /* stacks that left frames out */
	int thread_list_cut; /* the thread list was not read to its end (the
			      * sample's read budget, or a broken list) */
	uint64_t paused_ns;  /* how long the target was held stopped */
};

struct session;

/* Attach and find the interpreter.  On failure err holds one line saying
 * what is wrong and how to fix it. */
int session_open(struct plugins *pl, const struct session_options *opt,
		 struct session **out, char *err, size_t errlen);
void session_close(struct session *s);

const struct pyspy_process_info *session_process(const struct session *s);

/* One sample of every thread.  0 on success (possibly with errors counted),
 * -ESRCH once the process has exited, -ETIMEDOUT when the sample was given
 * up (its threads did not all stop in time; none is held), -ENOEXEC once it
 * has executed a program that is not Python (said on stderr), another
 * negative errno when the whole sample failed. */
int session_sample(struct session *s, struct session_sample *out);

/*
 * Find the interpreter of the process again, as after an exec: with a
 * handle of its own, so that nothing changes unless a different interpreter
 * is found (*changed = 1: the session samples it from now on, its caches
 * emptied; strings handed out before stay valid).  Returns 0, or what
 * session_open would (-ENOENT: not a Python program now, err says why).
 * session_sample calls it itself after a failed sample.
 */
int session_rediscover(struct session *s, int *changed, char *err, size_t errlen);

/* Say on stderr what samples left out, if anything: frames of deep stacks
 * (frames in stacks), and samples whose thread list was cut. */
void session_report_cuts(uint64_t frames, uint64_t stacks, uint64_t lists_cut);

/* 1 while the target runs; 0 once it has exited. */
int session_alive(struct session *s);

#endif /* PYSPY_CORE_SESSION_H */
