/*
 * The threads blocking mode holds: the kernel ids of the threads that run
 * Python code, as the last sample found them, and their OS states read
 * just before each hold (a held task reads as stopped).  Native threads
 * are not in it and keep running while the Python threads are read.
 */
#ifndef PYSPY_CORE_HOLDSET_H
#define PYSPY_CORE_HOLDSET_H

#include <stddef.h>
#include <stdint.h>

#include <pyspy/backend.h>

#include "remote.h"

struct holdset {
	int64_t *tids;                 /* the Python threads, in walk order */
	size_t n, cap;
	struct pyspy_os_thread *os;    /* their states before the last hold */
	size_t nos, cap_os;
	uint64_t asked_ns;             /* when os was read; 0: to be read */
	int64_t *pick;                 /* the ones this hold stops */
	size_t npick, cap_pick;
};

void holdset_free(struct holdset *h);

/* 1 if tid is in the set; hint: where it was in the walk that made it. */
int holdset_has(const struct holdset *h, size_t hint, int64_t tid);

/* The set becomes tids[0..n) (no 0 among them).  1 if it changed. */
int holdset_assign(struct holdset *h, const int64_t *tids, size_t n);

/* Read the OS state of every thread of the set (one question each), unless
 * they were read less than max_age_ns ago for the same set. */
void holdset_ask_states(struct holdset *h, struct remote *r, uint64_t now, uint64_t max_age_ns);

/* Choose the threads to stop into h->pick: every one with all; else those
 * the OS says run (or cannot say) and gil_tid (0: none).  Returns npick. */
size_t holdset_pick(struct holdset *h, int all, int64_t gil_tid);

/* 1 if tid is among the threads the last holdset_pick chose. */
int holdset_picked(const struct holdset *h, int64_t tid);

#endif /* PYSPY_CORE_HOLDSET_H */
