/*
 * Linux backend: holding threads of the target still while they are read.
 *
 * pause_threads holds the threads it is given (the core gives the threads
 * that run Python code; native threads keep running); pause holds every
 * thread, listing /proc/PID/task until the listing shows nothing new.
 * Both seize each task (PTRACE_SEIZE, which sends no signal) and ask it to
 * stop (PTRACE_INTERRUPT).  The stops are waited for inside the kernel:
 * the kernel sends the tracer SIGCHLD at every stop of a tracee, so
 * SIGCHLD is blocked before the first seize and waited for with
 * sigtimedwait up to a deadline, and each wake-up collects the stops with
 * waitpid(WNOHANG).  No clock is polled.  A task may stop to have a signal
 * delivered instead: that signal is kept and handed back at PTRACE_DETACH,
 * so the target still receives it.  resume detaches every task, which lets
 * it run.  If py-spy dies, the kernel detaches the tasks itself and they
 * run again.  SIGSTOP is never used.
 *
 * A thread that reaches no stop by the deadline (one blocked in vfork, whose
 * wait no signal interrupts, or one that gets no CPU) makes the pause give
 * up: the threads that did stop are let go at once.  The late thread cannot
 * be detached before it stops; it is kept aside and detached as soon as its
 * stop is seen (at the next pause, resume or alive check; if py-spy exits
 * first, the kernel drops the pending stop).
 *
 * While it holds threads, py-spy can run under SCHED_FIFO ("hold-priority
 * = realtime" in plugins.ini, and CAP_SYS_NICE; silently not otherwise): on
 * a loaded machine it is then not descheduled while the target waits for
 * it.  RLIMIT_RTTIME bounds the CPU time it may take
 * under that policy without blocking (LNX_RTTIME_US; past it the kernel
 * kills py-spy, and with it every hold), and the normal policy is restored
 * with every release, on every path.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lnx.h"

#define LNX_TICK_NS 200000ull          /* longest wait when SIGCHLD is not sent */
#define LNX_PAUSE_ALL_NS 1000000000ull /* deadline of one pass of pause (all threads) */
#define LNX_RTTIME_US 100000           /* RLIMIT_RTTIME while held (soft = hard) */

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

static struct lnx_held *lnx_late_find(struct pyspy_proc *proc, pid_t tid)
{
	size_t i;

	for (i = 0; i < proc->nlate; i++)
		if (proc->late[i].tid == tid)
			return &proc->late[i];
	return NULL;
}

/* Room for one more entry in a list of threads. */
static int lnx_held_reserve(struct pyspy_proc *proc, struct lnx_held **list, size_t n,
			    size_t *cap)
{
	struct lnx_held *grown;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > LNX_MAX_THREADS)
		return -E2BIG;
	grown = lnx_realloc(proc->host, *list, ncap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*list = grown;
	*cap = ncap;
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

/* The held or late thread tid, or NULL. */
static struct lnx_held *lnx_traced_find(struct pyspy_proc *proc, pid_t tid)
{
	size_t i;

	for (i = 0; i < proc->nheld; i++)
		if (proc->held[i].tid == tid)
			return &proc->held[i];
	return lnx_late_find(proc, tid);
}

/* Collect every stop and exit the kernel has to report, without waiting.
 * Bounded: each report is a distinct event of a task we trace (or of our
 * child), and a stopped task reports nothing more. */
static void lnx_collect(struct pyspy_proc *proc)
{
	size_t budget = 2 * (proc->nheld + proc->nlate) + 16;
	struct lnx_held *h;
	int status;
	pid_t r;

	while (budget-- > 0) {
		r = waitpid(-1, &status, WNOHANG | __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		h = lnx_traced_find(proc, r);
		if (h)
			lnx_held_status(proc, h, status);
		else if (WIFEXITED(status) || WIFSIGNALED(status))
			lnx_note_exit(proc, r, status);
	}
}

static int lnx_dead_task(struct pyspy_proc *proc, pid_t tid)
{
	char path[96], st;

	if (lnx_proc_path(path, sizeof(path), proc->pid, "task/%d/stat", (int)tid))
		return 0;
	st = lnx_stat_state(path);
	return st == 0 || st == 'Z' || st == 'X' || st == 'x';
}

/* ---- scheduling priority around the hold ------------------------------- */

/* Whether the boost may be tried: not when plugins.ini says
 * "hold-priority = normal", nor once the kernel has refused it. */
static int lnx_boost_allowed(struct pyspy_proc *proc)
{
	const char *opt;
	struct rlimit rl;

	if (proc->boost_state == 0) {
		/* Opt-in: a hold whose walk takes more CPU than RLIMIT_RTTIME
		 * (a very deep stack, thousands of threads) gets py-spy killed. */
		opt = proc->host->option ? proc->host->option(proc->host, "hold-priority") : NULL;
		proc->boost_state = opt && strcmp(opt, "realtime") == 0 ? 1 : -1;
		/* Only ever lower the limit; without one, no real-time policy. */
		if (proc->boost_state > 0 && getrlimit(RLIMIT_RTTIME, &rl) == 0) {
			if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > LNX_RTTIME_US)
				rl.rlim_max = LNX_RTTIME_US;
			if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max)
				rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_RTTIME, &rl) < 0)
				proc->boost_state = -1;
		} else if (proc->boost_state > 0) {
			proc->boost_state = -1;
		}
	}
	return proc->boost_state > 0;
}

static void lnx_boost(struct pyspy_proc *proc)
{
	struct sched_param sp = { .sched_priority = 1 };

	if (proc->boosted || !lnx_boost_allowed(proc))
		return;
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0)
		proc->boosted = 1;
	else
		proc->boost_state = -1; /* EPERM: no CAP_SYS_NICE; not asked again */
}

static void lnx_unboost(struct pyspy_proc *proc)
{
	struct sched_param sp = { .sched_priority = 0 };

	if (!proc->boosted)
		return;
	sched_setscheduler(0, SCHED_OTHER, &sp);
	proc->boosted = 0;
}

/* ---- waiting for stops -------------------------------------------------- */

/* SIGCHLD reports every stop only if it is neither ignored nor asked not
 * to (SA_NOCLDSTOP); otherwise each wait lasts at most LNX_TICK_NS. */
static void lnx_chld_block(struct pyspy_proc *proc, sigset_t *old)
{
	struct sigaction sa;
	sigset_t chld;

	if (!proc->chld_checked) {
		proc->chld_checked = 1;
		proc->chld_notifies = sigaction(SIGCHLD, NULL, &sa) == 0 &&
				      sa.sa_handler != SIG_IGN && !(sa.sa_flags & SA_NOCLDSTOP);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, old);
}

/* A SIGCHLD still pending goes to the host's handler when unblocked. */
static void lnx_chld_restore(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

static size_t lnx_unsettled(struct pyspy_proc *proc, size_t from, pid_t *one)
{
	size_t i, n = 0;

	for (i = from; i < proc->nheld; i++) {
		if (proc->held[i].tid && !proc->held[i].stopped) {
			*one = proc->held[i].tid;
			n++;
		}
	}
	return n;
}

/* When the first of held[from..] was seen stopped: now, if one is. */
static void lnx_note_first_stop(struct pyspy_proc *proc, size_t from, uint64_t *first)
{
	size_t i;

	for (i = from; i < proc->nheld && !*first; i++) {
		if (proc->held[i].tid && proc->held[i].stopped)
			*first = lnx_now_ns();
	}
}

/*
 * Wait until held[from..] are all stopped or gone: for the first stop until
 * wait_deadline, then for the others at most hold_ns more (the stopped ones
 * are held meanwhile); -ETIMEDOUT past that, *late being one thread that
 * did not stop.  *first: when the first stop was seen, 0 if none.  SIGCHLD
 * must be blocked since before they were seized: a stop between two waits
 * leaves it pending, and the next wait returns at once.  A task that
 * neither stops nor reports (a main thread that exited while others live
 * stays an unreportable zombie) is checked in /proc at the deadline.
 */
static int lnx_wait_stops(struct pyspy_proc *proc, size_t from, uint64_t wait_deadline,
			  uint64_t hold_ns, uint64_t *first, pid_t *late)
{
	uint64_t now, left, deadline;
	struct timespec ts;
	sigset_t chld;
	size_t i;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	*first = 0;
	while (lnx_unsettled(proc, from, late)) {
		lnx_note_first_stop(proc, from, first);
		deadline = *first ? *first + hold_ns : wait_deadline;
		now = lnx_now_ns();
		if (now >= deadline)
			break;
		left = deadline - now;
		if (!proc->chld_notifies && left > LNX_TICK_NS)
			left = LNX_TICK_NS;
		ts.tv_sec = (time_t)(left / 1000000000ull);
		ts.tv_nsec = (long)(left % 1000000000ull);
		sigtimedwait(&chld, NULL, &ts);
		lnx_collect(proc);
	}
	lnx_note_first_stop(proc, from, first);
	for (i = from; i < proc->nheld; i++) {
		struct lnx_held *h = &proc->held[i];

		if (h->tid && !h->stopped && lnx_dead_task(proc, h->tid)) {
			if (h->tid == proc->pid)
				proc->reap_leader = 1;
			h->tid = 0;
		}
	}
	return lnx_unsettled(proc, from, late) ? -ETIMEDOUT : 0;
}

/* ---- letting go ---------------------------------------------------------- */

/* Detach one stopped thread, giving back its signal.  ESRCH means it is
 * not in a stop any more (SIGKILL woke it: it is exiting); what the kernel
 * reports of it decides, and a thread still unsettled then is kept late. */
static int lnx_detach_one(struct pyspy_proc *proc, struct lnx_held *h)
{
	int tries;

	for (tries = 0; tries < 4 && h->tid && h->stopped; tries++) {
		if (ptrace(PTRACE_DETACH, h->tid, NULL, (void *)(long)h->sig) == 0) {
			h->tid = 0;
			return 0;
		}
		if (errno != ESRCH)
			return -errno;
		h->stopped = 0;
		lnx_collect(proc);
	}
	return 0;
}

/* Keep a seized thread that has not stopped yet, to detach it later. */
static void lnx_keep_late(struct pyspy_proc *proc, const struct lnx_held *h)
{
	if (lnx_late_find(proc, h->tid))
		return;
	/* Without room it stays seized until py-spy exits: the kernel then
	 * drops its pending stop. */
	if (lnx_held_reserve(proc, &proc->late, proc->nlate, &proc->late_cap))
		return;
	proc->late[proc->nlate++] = *h;
}

/* One of tids that is still late (seized, its stop not reached), or 0. */
static pid_t lnx_late_among(struct pyspy_proc *proc, const int64_t *tids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (tids[i] > 0 && tids[i] <= INT_MAX && lnx_late_find(proc, (pid_t)tids[i]))
			return (pid_t)tids[i];
	}
	return 0;
}

/* Detach the late threads that have stopped since; forget the gone ones. */
void lnx_settle_late(struct pyspy_proc *proc)
{
	size_t i = 0;

	if (!proc->nlate)
		return;
	lnx_collect(proc);
	while (i < proc->nlate) {
		struct lnx_held *h = &proc->late[i];

		if (h->tid && h->stopped)
			lnx_detach_one(proc, h);
		/* Ask again: a stop asked for can be lost (the thread's exec
		 * clears it), and a thread kept late forever would give up
		 * every sample that needs it. */
		else if (h->tid)
			ptrace(PTRACE_INTERRUPT, h->tid, NULL, NULL);
		if (h->tid) {
			i++;
			continue;
		}
		proc->late[i] = proc->late[--proc->nlate];
	}
}

/* Wait (SIGCHLD blocked by the caller) until none of tids is late or the
 * deadline passes; the late thread left, or 0. */
static pid_t lnx_wait_late(struct pyspy_proc *proc, const int64_t *tids, size_t n,
			   uint64_t deadline)
{
	struct timespec ts;
	sigset_t chld;
	uint64_t now, left;
	pid_t late;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while ((late = lnx_late_among(proc, tids, n)) && (now = lnx_now_ns()) < deadline) {
		left = deadline - now;
		if (!proc->chld_notifies && left > LNX_TICK_NS)
			left = LNX_TICK_NS;
		ts.tv_sec = (time_t)(left / 1000000000ull);
		ts.tv_nsec = (long)(left % 1000000000ull);
		sigtimedwait(&chld, NULL, &ts);
		lnx_settle_late(proc);
	}
	return late;
}

/* Let every held thread go, the main thread last (it can only be reaped
 * after the others).  Returns 0 or the first unexpected error. */
static int lnx_release(struct pyspy_proc *proc)
{
	struct lnx_held *leader = NULL;
	int rc = 0, r;
	size_t i;

	lnx_collect(proc);
	for (i = 0; i < proc->nheld; i++) {
		struct lnx_held *h = &proc->held[i];

		if (h->tid == proc->pid) {
			leader = h;
			continue;
		}
		r = lnx_detach_one(proc, h);
		if (r && !rc)
			rc = r;
		if (h->tid)
			lnx_keep_late(proc, h);
	}
	if (leader) {
		r = lnx_detach_one(proc, leader);
		if (r && !rc)
			rc = r;
		if (leader->tid)
			lnx_keep_late(proc, leader);
	}
	proc->nheld = 0;
	proc->paused = 0;
	if (proc->hold && proc->hold->size >= offsetof(struct pyspy_hold, released_ns) +
						sizeof(proc->hold->released_ns))
		proc->hold->released_ns = lnx_now_ns();
	proc->hold = NULL;
	/* Last: back at the normal policy, py-spy may wait for a CPU. */
	lnx_unboost(proc);
	return rc;
}

/* ---- holding --------------------------------------------------------------- */

/* Seize and interrupt one task.  0: held; 1: it vanished; <0: error. */
static int lnx_seize(struct pyspy_proc *proc, pid_t tid)
{
	struct lnx_held *h;
	int rc;

	rc = lnx_held_reserve(proc, &proc->held, proc->nheld, &proc->held_cap);
	if (rc)
		return rc;
	/* Only a task of this process: a tid the caller read from the
	 * target's memory may name any task, or a reused one. */
	if (syscall(SYS_tgkill, (long)proc->pid, (long)tid, 0L) < 0)
		return errno == ESRCH ? 1 : -errno;
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
		rc = -errno;
		if (rc == -ESRCH)
			return 1;
		/* EPERM on a task that is exiting (zombie) is not an error */
		return lnx_dead_task(proc, tid) ? 1 : rc;
	}
	h = &proc->held[proc->nheld++];
	memset(h, 0, sizeof(*h));
	h->tid = tid;
	/* ESRCH here means it is exiting: the wait sees the exit */
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

static void lnx_timeout_error(struct pyspy_proc *proc, pid_t tid, uint64_t first,
			      uint64_t wait_ns, uint64_t hold_ns, char *err, size_t errlen)
{
	if (first)
		snprintf(err, errlen, "thread %d of process %d did not stop within %.1f ms of "
			 "the first; sample given up", (int)tid, (int)proc->pid, (double)hold_ns / 1e6);
	else
		snprintf(err, errlen, "no thread of process %d stopped within %.1f ms (thread %d "
			 "among them); sample given up", (int)proc->pid, (double)wait_ns / 1e6, (int)tid);
}

/* Whether every thread held has exited (the process may be gone). */
static int lnx_all_gone(struct pyspy_proc *proc)
{
	size_t i;

	for (i = 0; i < proc->nheld; i++)
		if (proc->held[i].tid)
			return 0;
	return 1;
}

int lnx_pause_threads(struct pyspy_proc *proc, const int64_t *tids, size_t n,
		      struct pyspy_hold *hold, char *err, size_t errlen)
{
	uint64_t wait_ns = 0, hold_ns = 0, first = 0, wait_deadline;
	size_t i, skipped = 0;
	pid_t late = 0;
	sigset_t old;
	int rc = 0;

	if (hold && hold->size >= offsetof(struct pyspy_hold, hold_ns) + sizeof(hold->hold_ns)) {
		wait_ns = hold->wait_ns;
		hold_ns = hold->hold_ns;
	}
	wait_deadline = lnx_now_ns() + wait_ns;
	if (proc->paused)
		return 0;
	if (n > LNX_MAX_THREADS) {
		snprintf(err, errlen, "cannot pause %zu threads (at most %u)", n, LNX_MAX_THREADS);
		return -E2BIG;
	}
	lnx_settle_late(proc);
	late = lnx_late_among(proc, tids, n);
	if (late) {
		/* It was asked again (lnx_settle_late): give it until the
		 * deadline of this sample's first stop, waiting in the kernel. */
		lnx_chld_block(proc, &old);
		late = lnx_wait_late(proc, tids, n, wait_deadline);
		lnx_chld_restore(&old);
	}
	if (late) {
		snprintf(err, errlen, "thread %d of process %d has not yet reached the "
			 "stop an earlier sample asked for; sample given up", (int)late, (int)proc->pid);
		return -ETIMEDOUT;
	}
	proc->nheld = 0;
	proc->paused = 1; /* detach() resumes whatever is held from here on */
	lnx_boost(proc);
	lnx_chld_block(proc, &old);
	for (i = 0; i < n; i++) {
		if (tids[i] <= 0 || tids[i] > INT_MAX)
			continue;
		rc = lnx_seize(proc, (pid_t)tids[i]);
		if (rc == -ENOMEM || rc == -E2BIG) {
			snprintf(err, errlen, "cannot pause process %d: %s", (int)proc->pid,
				 strerror(-rc));
			goto out_restore;
		}
		/* One thread we may not hold (another tracer has it) costs
		 * that thread's consistency, not the sample. */
		if (rc < 0 && skipped++ == 0)
			lnx_seize_error(proc, (pid_t)tids[i], rc, err, errlen);
	}
	rc = lnx_wait_stops(proc, 0, wait_deadline, hold_ns, &first, &late);
	if (hold && hold->size >= offsetof(struct pyspy_hold, stopped_ns) + sizeof(hold->stopped_ns))
		hold->stopped_ns = rc ? 0 : first;
	if (rc)
		lnx_timeout_error(proc, late, first, wait_ns, hold_ns, err, errlen);
	else if (n && lnx_all_gone(proc) && !lnx_pid_running(proc->pid))
		rc = -ESRCH;
out_restore:
	lnx_chld_restore(&old);
	if (rc) {
		if (rc == -ESRCH)
			snprintf(err, errlen, "process %d has exited", (int)proc->pid);
		lnx_release(proc);
		return rc;
	}
	proc->hold = hold;
	return (int)(skipped > INT_MAX ? INT_MAX : skipped);
}

/* One pass of pause: seize every listed task not held yet.  The number
 * seized, or a negative errno with err set. */
static int lnx_seize_listed(struct pyspy_proc *proc, size_t sorted, char *err, size_t errlen)
{
	int rc, added = 0;
	size_t i;

	for (i = 0; i < proc->ntids; i++) {
		if (lnx_held_find(proc, sorted, proc->tids[i]))
			continue;
		if (lnx_late_find(proc, proc->tids[i])) {
			snprintf(err, errlen, "thread %d of process %d has not yet reached the "
				 "stop an earlier pause asked for", (int)proc->tids[i], (int)proc->pid);
			return -ETIMEDOUT;
		}
		rc = lnx_seize(proc, proc->tids[i]);
		if (rc < 0) {
			lnx_seize_error(proc, proc->tids[i], rc, err, errlen);
			return rc;
		}
		added += rc == 0;
	}
	return added;
}

int lnx_pause(struct pyspy_proc *proc, char *err, size_t errlen)
{
	size_t sorted = 0, i;
	uint64_t first;
	pid_t late = 0;
	int pass, rc;
	sigset_t old;

	if (proc->paused)
		return 0;
	lnx_settle_late(proc);
	proc->nheld = 0;
	proc->paused = 1; /* detach() resumes whatever is held from here on */
	lnx_boost(proc);
	lnx_chld_block(proc, &old);
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
		rc = lnx_seize_listed(proc, sorted, err, errlen);
		if (rc < 0)
			goto out_release;
		if (rc == 0 && pass > 0)
			break;
		/* wait for this pass's stops: a task that is stopped cannot
		 * start new ones, so an unchanged listing is the whole set */
		rc = lnx_wait_stops(proc, sorted, lnx_now_ns() + LNX_PAUSE_ALL_NS, LNX_PAUSE_ALL_NS,
				    &first, &late);
		if (rc) {
			lnx_timeout_error(proc, late, first, LNX_PAUSE_ALL_NS, LNX_PAUSE_ALL_NS,
					  err, errlen);
			goto out_release;
		}
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
	lnx_chld_restore(&old);
	return 0;

out_release:
	lnx_chld_restore(&old);
	lnx_release(proc);
	return rc;
}

int lnx_resume(struct pyspy_proc *proc)
{
	int rc = 0;

	if (proc->paused)
		rc = lnx_release(proc);
	lnx_settle_late(proc);
	return rc;
}

void lnx_held_note_stop(struct pyspy_proc *proc, pid_t tid, int status)
{
	struct lnx_held *h = lnx_traced_find(proc, tid);

	if (!h)
		return;
	lnx_held_status(proc, h, status);
	/* A late thread that stopped is let go now. */
	if (!proc->paused)
		lnx_settle_late(proc);
}
