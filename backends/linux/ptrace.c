/*
 * Linux backend: holding every thread of the target still while it is
 * sampled.
 *
 * pause seizes each task (PTRACE_SEIZE, which sends no signal) and asks it
 * to stop (PTRACE_INTERRUPT), then waits until each is in its stop.  A task
 * may instead stop to have a signal delivered: that signal is kept and
 * handed back at PTRACE_DETACH, so the target still receives it.  The task
 * listing is repeated until it shows no task we do not hold.  resume
 * detaches every task, which lets it run.  If py-spy dies, the kernel
 * detaches the tasks itself and they run again.  SIGSTOP is never used.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "lnx.h"

#define LNX_WAIT_TICK_NS 200000 /* longest sleep between polls of the main thread */
#define LNX_SPIN_NS 50000       /* how long to poll for a stop before sleeping */

static int lnx_held_cmp(const void *a, const void *b)
{
	const struct lnx_held *x = a, *y = b;

	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Held threads are sorted by tid after each pass of pause. */
static struct lnx_held *lnx_held_find(struct pyspy_proc *proc, size_t sorted, pid_t tid)
{
	struct lnx_held key = { .tid = tid };
	size_t i;

	for (i = sorted; i < proc->nheld; i++)
		if (proc->held[i].tid == tid)
			return &proc->held[i];
	return sorted ? bsearch(&key, proc->held, sorted, sizeof(key), lnx_held_cmp) : NULL;
}

/* Room for one more held thread, made before seizing it. */
static int lnx_held_reserve(struct pyspy_proc *proc)
{
	struct lnx_held *held;
	size_t cap;

	if (proc->nheld < proc->held_cap)
		return 0;
	cap = proc->held_cap ? proc->held_cap * 2 : 64;
	if (cap > LNX_MAX_THREADS)
		return -E2BIG;
	held = lnx_realloc(proc->host, proc->held, cap * sizeof(*held));
	if (!held)
		return -ENOMEM;
	proc->held = held;
	proc->held_cap = cap;
	return 0;
}

void lnx_note_exit(struct pyspy_proc *proc, pid_t tid, int status)
{
	if (tid == proc->pid && proc->is_child && !proc->exited) {
		proc->exited = 1;
		proc->status = status;
	}
}

/* What a wait status says about a held thread. */
static void lnx_held_status(struct pyspy_proc *proc, struct lnx_held *h, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		lnx_note_exit(proc, h->tid, status);
		h->tid = 0; /* gone */
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	h->stopped = 1;
	/* event 0: signal-delivery-stop; keep the signal for the detach.
	 * PTRACE_EVENT_STOP: our interrupt (or a group-stop). */
	if ((status >> 16) == 0 && h->sig == 0)
		h->sig = WSTOPSIG(status);
}

void lnx_held_note_stop(struct pyspy_proc *proc, pid_t tid, int status)
{
	struct lnx_held *h;
	size_t i;

	for (i = 0; i < proc->nheld; i++) {
		h = &proc->held[i];
		if (h->tid == tid) {
			lnx_held_status(proc, h, status);
			return;
		}
	}
}

/* Poll h's stop without blocking for up to LNX_SPIN_NS; 1 when it is
 * settled (stopped or gone). */
static int lnx_spin_for_stop(struct pyspy_proc *proc, struct lnx_held *h)
{
	uint64_t end = lnx_now_ns() + LNX_SPIN_NS;
	int status;
	pid_t r;

	while (h->tid && !h->stopped) {
		r = waitpid(h->tid, &status, WNOHANG | __WALL);
		if (r > 0)
			lnx_held_status(proc, h, status);
		else if (r < 0 && errno != EINTR)
			return 0; /* let the caller sort it out */
		else if (lnx_now_ns() >= end)
			return 0;
	}
	return 1;
}

/*
 * Wait until a seized thread is in a stop, or gone.  Threads other than
 * the main one simply block in waitpid.  The main thread is polled: once
 * it has exited it stays a zombie, unreportable, for as long as other
 * threads live (and we may hold them), so a blocking wait could last for
 * ever.  Its stop is usually microseconds away, so the first polls only
 * yield the CPU (a sleep would cost more than the wait); a zombie is left
 * to be reaped later (proc->reap_leader: by alive or detach).
 */
static void lnx_held_wait(struct pyspy_proc *proc, struct lnx_held *h)
{
	int leader = h->tid == proc->pid, status, polls = 0;
	struct timespec tick = { 0, LNX_WAIT_TICK_NS };
	sigset_t chld, old;
	char path[96], st;
	pid_t r;

	/* A running thread stops within microseconds of PTRACE_INTERRUPT; poll
	 * for it a little before sleeping, since waking from a sleep (an idle
	 * virtual CPU in particular) can take far longer than the stop. */
	if (lnx_spin_for_stop(proc, h))
		return;
	/* The main thread is waited for without blocking (see above): between
	 * polls we sleep until a SIGCHLD says some tracee changed state, or a
	 * short tick passes.  SIGCHLD is blocked meanwhile so that it wakes
	 * sigtimedwait rather than a handler; one that arrives between the
	 * poll and the wait stays pending and ends the wait at once. */
	if (leader) {
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, &old);
	}
	while (h->tid && !h->stopped) {
		r = waitpid(h->tid, &status, leader ? WNOHANG | __WALL : __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) { /* ECHILD: it exited and was reaped */
			h->tid = 0;
			break;
		}
		if (r > 0) {
			lnx_held_status(proc, h, status);
			continue;
		}
		if (++polls % 64 == 0) {
			st = 0;
			if (lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/stat",
					  (int)h->tid) == 0)
				st = lnx_stat_state(path);
			if (st == 0 || st == 'Z' || st == 'X' || st == 'x') {
				proc->reap_leader = 1;
				h->tid = 0;
				break;
			}
		}
		sigtimedwait(&chld, NULL, &tick);
	}
	/* A SIGCHLD still pending is delivered to the core's handler now. */
	if (leader)
		sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Wait for held[from..]: the other threads first, the main thread last. */
static void lnx_wait_all(struct pyspy_proc *proc, size_t from)
{
	struct lnx_held *leader = NULL;
	size_t i;

	for (i = from; i < proc->nheld; i++) {
		if (proc->held[i].tid == proc->pid)
			leader = &proc->held[i];
		else
			lnx_held_wait(proc, &proc->held[i]);
	}
	if (leader)
		lnx_held_wait(proc, leader);
}

/* Detach one stopped thread, giving back its signal.  ESRCH means it is
 * not in a stop any more: SIGKILL woke it and it is exiting, so reap it. */
static int lnx_detach_one(struct pyspy_proc *proc, struct lnx_held *h)
{
	int tries;

	for (tries = 0; tries < 4 && h->tid; tries++) {
		if (ptrace(PTRACE_DETACH, h->tid, NULL, (void *)(long)h->sig) == 0)
			return 0;
		if (errno != ESRCH)
			return -errno;
		h->stopped = 0;
		lnx_held_wait(proc, h);
	}
	return 0;
}

/* Let every held thread go, the main thread last (it can only be reaped
 * after the others).  Returns 0 or the first unexpected error. */
static int lnx_release(struct pyspy_proc *proc)
{
	struct lnx_held *leader = NULL;
	int rc = 0, r;
	size_t i;

	lnx_wait_all(proc, 0); /* PTRACE_DETACH needs a stopped tracee */
	for (i = 0; i < proc->nheld; i++) {
		if (!proc->held[i].tid)
			continue;
		if (proc->held[i].tid == proc->pid) {
			leader = &proc->held[i];
			continue;
		}
		r = lnx_detach_one(proc, &proc->held[i]);
		if (r && !rc)
			rc = r;
	}
	if (leader) {
		r = lnx_detach_one(proc, leader);
		if (r && !rc)
			rc = r;
	}
	proc->nheld = 0;
	proc->paused = 0;
	return rc;
}

/* Seize and interrupt one task.  0: held; 1: it vanished; <0: error. */
static int lnx_seize(struct pyspy_proc *proc, pid_t tid)
{
	struct lnx_held *h;
	char path[96], st;
	int rc;

	rc = lnx_held_reserve(proc);
	if (rc)
		return rc;
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
		rc = -errno;
		if (rc == -ESRCH)
			return 1;
		/* EPERM on a task that is exiting (zombie) is not an error */
		if (lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/stat", (int)tid))
			return rc;
		st = lnx_stat_state(path);
		if (st == 0 || st == 'Z' || st == 'X' || st == 'x')
			return 1;
		return rc;
	}
	h = &proc->held[proc->nheld++];
	memset(h, 0, sizeof(*h));
	h->tid = tid;
	/* ESRCH here means it is exiting: lnx_held_wait sees the exit */
	ptrace(PTRACE_INTERRUPT, tid, NULL, NULL);
	return 0;
}

/* Pid of the tracer of a task: 0 if none, -1 if unknown. */
static long lnx_tracer_of(struct pyspy_proc *proc, pid_t tid)
{
	char path[96], *text, *p;
	long tracer = -1;
	size_t len;

	if (lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/status", (int)tid) ||
	    lnx_read_file(proc->host, path, 64 << 10, &text, &len))
		return -1;
	p = strstr(text, "\nTracerPid:");
	if (p)
		tracer = strtol(p + strlen("\nTracerPid:"), NULL, 10);
	lnx_free(proc->host, text);
	return tracer;
}

static void lnx_seize_error(struct pyspy_proc *proc, pid_t tid, int rc, char *err,
			    size_t errlen)
{
	long tracer = rc == -EPERM ? lnx_tracer_of(proc, tid) : -1;

	if (tracer > 0)
		snprintf(err, errlen, "cannot pause process %d: its thread %d is already "
			 "traced by process %ld (a debugger?)", (int)proc->pid, (int)tid, tracer);
	else
		snprintf(err, errlen, "cannot pause process %d: ptrace of thread %d: %s",
			 (int)proc->pid, (int)tid, strerror(-rc));
}

int lnx_pause(struct pyspy_proc *proc, char *err, size_t errlen)
{
	size_t sorted = 0, i, added;
	int pass, rc;

	if (proc->paused)
		return 0;
	proc->nheld = 0;
	proc->paused = 1; /* detach() resumes whatever is held from here on */
	for (pass = 0; pass < LNX_PAUSE_PASSES; pass++) {
		/* The first pass may seize the tasks of the last listing: the
		 * next pass lists afresh, and stops only when nothing is new. */
		rc = pass == 0 && proc->ntids ? 0 : lnx_task_list(proc);
		if (rc == -ESRCH && proc->nheld)
			break; /* every task we held has exited since */
		if (rc) {
			snprintf(err, errlen, rc == -ESRCH ? "process %d has exited" :
				 "cannot list the threads of process %d", (int)proc->pid);
			goto out_release;
		}
		added = 0;
		for (i = 0; i < proc->ntids; i++) {
			if (lnx_held_find(proc, sorted, proc->tids[i]))
				continue;
			rc = lnx_seize(proc, proc->tids[i]);
			if (rc < 0) {
				lnx_seize_error(proc, proc->tids[i], rc, err, errlen);
				goto out_release;
			}
			added += rc == 0;
		}
		if (added == 0 && pass > 0)
			break;
		/* wait for this pass's stops: a task that is stopped cannot
		 * start new ones, so an unchanged listing is the whole set */
		lnx_wait_all(proc, sorted);
		qsort(proc->held, proc->nheld, sizeof(*proc->held), lnx_held_cmp);
		sorted = proc->nheld;
	}
	if (pass == LNX_PAUSE_PASSES) {
		snprintf(err, errlen, "process %d keeps starting threads; cannot pause it",
			 (int)proc->pid);
		rc = -EAGAIN;
		goto out_release;
	}
	for (i = 0; i < proc->nheld && proc->held[i].tid == 0; i++)
		;
	if (i == proc->nheld) {
		snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		rc = -ESRCH;
		goto out_release;
	}
	return 0;

out_release:
	lnx_release(proc);
	return rc;
}

int lnx_resume(struct pyspy_proc *proc)
{
	if (!proc->paused)
		return 0;
	return lnx_release(proc);
}
