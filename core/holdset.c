/*
 * The threads blocking mode holds (see holdset.h).
 */
#include <stdlib.h>
#include <string.h>

#include "holdset.h"
#include "util.h"

void holdset_free(struct holdset *h)
{
	free(h->tids);
	free(h->os);
	free(h->pick);
	memset(h, 0, sizeof(*h));
}

int holdset_has(const struct holdset *h, size_t hint, int64_t tid)
{
	size_t i;

	if (tid <= 0)
		return 0;
	if (hint < h->n && h->tids[hint] == tid)
		return 1;
	for (i = 0; i < h->n; i++) {
		if (h->tids[i] == tid)
			return 1;
	}
	return 0;
}

int holdset_assign(struct holdset *h, const int64_t *tids, size_t n)
{
	if (n == h->n && (n == 0 || memcmp(h->tids, tids, n * sizeof(*tids)) == 0))
		return 0;
	if (n > h->cap) {
		h->cap = n + 16;
		h->tids = xrealloc(h->tids, h->cap * sizeof(*h->tids));
	}
	if (n)
		memcpy(h->tids, tids, n * sizeof(*tids));
	h->n = n;
	h->asked_ns = 0;
	return 1;
}

void holdset_ask_states(struct holdset *h, struct remote *r, uint64_t now, uint64_t max_age_ns)
{
	size_t i;
	int st;

	if (h->asked_ns && now - h->asked_ns < max_age_ns && h->nos == h->n)
		return;
	if (h->n > h->cap_os) {
		h->cap_os = h->n + 16;
		h->os = xrealloc(h->os, h->cap_os * sizeof(*h->os));
	}
	for (i = 0; i < h->n; i++) {
		st = remote_thread_state(r, h->tids[i]);
		memset(&h->os[i], 0, sizeof(h->os[i]));
		h->os[i].tid = h->tids[i];
		h->os[i].state = st < 0 ? PYSPY_THREAD_UNKNOWN : (uint32_t)st;
	}
	h->nos = h->n;
	h->asked_ns = now;
}

size_t holdset_pick(struct holdset *h, int all, int64_t gil_tid)
{
	size_t i;
	uint32_t st;

	if (h->n > h->cap_pick) {
		h->cap_pick = h->n + 16;
		h->pick = xrealloc(h->pick, h->cap_pick * sizeof(*h->pick));
	}
	h->npick = 0;
	for (i = 0; i < h->n; i++) {
		st = i < h->nos && h->os[i].tid == h->tids[i] ? h->os[i].state : PYSPY_THREAD_UNKNOWN;
		if (all || st != PYSPY_THREAD_IDLE || h->tids[i] == gil_tid)
			h->pick[h->npick++] = h->tids[i];
	}
	return h->npick;
}

int holdset_picked(const struct holdset *h, int64_t tid)
{
	size_t i;

	for (i = 0; tid > 0 && i < h->npick; i++) {
		if (h->pick[i] == tid)
			return 1;
	}
	return 0;
}
