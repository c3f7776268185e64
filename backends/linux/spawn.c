/*
 * Linux backend: starting a program, watching it, ending it.
 *
 * The child reports a failed exec (or a failed drop of privileges) through
 * a close-on-exec pipe: the parent reads either EOF (the exec worked) or
 * the stage and errno of the failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lnx.h"

#define LNX_TERM_GRACE_MS 1000
#define LNX_POLL_MS       10

enum lnx_spawn_stage {
	LNX_STAGE_STDOUT = 1,
	LNX_STAGE_USER = 2,
	LNX_STAGE_EXEC = 3,
	LNX_STAGE_TIE = 4,
};

struct lnx_spawn_report {
	int stage;
	int err;
};

static void lnx_child_fail(int fd, int stage)
{
	struct lnx_spawn_report rep = { stage, errno };
	ssize_t r;

	do
		r = write(fd, &rep, sizeof(rep));
	while (r < 0 && errno == EINTR);
	_exit(127);
}

/*
 * In the child: the program ends with py-spy, however py-spy ends (even by
 * SIGKILL, when nothing of ours can run).  Set after the change of user,
 * which clears it; if py-spy died before this, the child is already an
 * orphan and must not start the program at all.
 */
static void lnx_child_tie(pid_t parent, int report_fd)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		lnx_child_fail(report_fd, LNX_STAGE_TIE);
	if (getppid() != parent)
		_exit(127);
}

/* In the child: set up and exec; returns only to report a failure. */
static void lnx_child(const struct pyspy_spawn *sp, pid_t parent, int report_fd)
{
	sigset_t none;
	gid_t gid;
	int sig;

	/* the program starts with default dispositions and nothing blocked */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (sp->stdout_fd >= 0 && sp->stdout_fd != STDOUT_FILENO &&
	    dup2(sp->stdout_fd, STDOUT_FILENO) < 0)
		lnx_child_fail(report_fd, LNX_STAGE_STDOUT);
	if (sp->gid >= 0) {
		gid = (gid_t)sp->gid;
		if (setgroups(1, &gid) < 0 || setgid(gid) < 0)
			lnx_child_fail(report_fd, LNX_STAGE_USER);
	} else if (sp->uid >= 0 && setgroups(0, NULL) < 0) {
		lnx_child_fail(report_fd, LNX_STAGE_USER);
	}
	if (sp->uid >= 0 && setuid((uid_t)sp->uid) < 0)
		lnx_child_fail(report_fd, LNX_STAGE_USER);
	lnx_child_tie(parent, report_fd);
	execvp(sp->argv[0], sp->argv);
	lnx_child_fail(report_fd, LNX_STAGE_EXEC);
}

int lnx_spawn(const struct pyspy_host *host, const struct pyspy_spawn *caller, int64_t *pid,
	      char *err, size_t errlen)
{
	/* What the caller's struct does not hold keeps ours (-1). */
	struct pyspy_spawn local = { .stdout_fd = -1, .uid = -1, .gid = -1 };
	const struct pyspy_spawn *sp = &local;
	struct lnx_spawn_report rep;
	int fds[2], rc, status;
	size_t got = 0;
	ssize_t r;
	pid_t child, self = getpid();

	if (caller && PYSPY_HAS(caller->size, struct pyspy_spawn, argv))
		memcpy(&local, caller, caller->size < sizeof(local) ? caller->size : sizeof(local));
	if (!sp->argv || !sp->argv[0]) {
		snprintf(err, errlen, "nothing to run");
		return -EINVAL;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot run %s: pipe: %s", sp->argv[0], strerror(-rc));
		return rc;
	}
	child = fork();
	if (child < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot run %s: fork: %s", sp->argv[0], strerror(-rc));
		goto out_pipe;
	}
	if (child == 0) {
		close(fds[0]);
		lnx_child(sp, self, fds[1]);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof(rep)) {
		r = read(fds[0], (char *)&rep + got, sizeof(rep) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	close(fds[0]);
	if (got < sizeof(rep)) { /* EOF: the exec worked */
		*pid = child;
		return 0;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	rc = rep.err > 0 ? -rep.err : -EIO;
	switch (rep.stage) {
	case LNX_STAGE_STDOUT:
		snprintf(err, errlen, "cannot run %s: cannot redirect its output: %s",
			 sp->argv[0], strerror(-rc));
		break;
	case LNX_STAGE_USER:
		snprintf(err, errlen, "cannot run %s as uid %lld gid %lld: %s", sp->argv[0],
			 (long long)sp->uid, (long long)sp->gid, strerror(-rc));
		break;
	case LNX_STAGE_TIE:
		snprintf(err, errlen, "cannot run %s: cannot tie it to py-spy's life: %s",
			 sp->argv[0], strerror(-rc));
		break;
	default:
		snprintf(err, errlen, "cannot run %s: %s", sp->argv[0], strerror(-rc));
		break;
	}
	return rc;

out_pipe:
	close(fds[0]);
	close(fds[1]);
	return rc;
}

static void lnx_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reap our child (or a main thread we traced when it exited) if it has
 * ended.  While it is held by pause, waitpid may also report a ptrace
 * stop: that is not an exit. */
static void lnx_reap(struct pyspy_proc *proc)
{
	int st, i;
	pid_t r;

	for (i = 0; !proc->exited && i < 64; i++) {
		r = waitpid(proc->pid, &st, WNOHANG | __WALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			proc->reap_leader = 0; /* ECHILD: reaped elsewhere */
		if (r <= 0)
			return; /* 0: not ended */
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			proc->reap_leader = 0;
			lnx_note_exit(proc, r, st);
		} else if (WIFSTOPPED(st)) {
			lnx_held_note_stop(proc, r, st);
		}
	}
}

int lnx_alive(struct pyspy_proc *proc, int *status)
{
	int tries;

	if (!proc->paused)
		lnx_settle_late(proc);
	if (proc->is_child || proc->reap_leader)
		lnx_reap(proc);
	/* every task has ended: the child's status is a moment away */
	for (tries = 0; tries < 20 && proc->is_child && !proc->exited &&
	     !lnx_pid_running(proc->pid); tries++) {
		lnx_sleep_ms(1);
		lnx_reap(proc);
	}
	if (proc->exited) {
		if (status)
			*status = proc->status;
		return 0;
	}
	return lnx_pid_running(proc->pid);
}

int lnx_terminate(struct pyspy_proc *proc)
{
	int waited, st;

	if (proc->paused)
		lnx_resume(proc); /* a held process cannot act on SIGTERM */
	if (!lnx_alive(proc, NULL))
		return 0;
	if (kill(proc->pid, SIGTERM) < 0 && errno != ESRCH)
		return -errno;
	for (waited = 0; waited < LNX_TERM_GRACE_MS; waited += LNX_POLL_MS) {
		if (!lnx_alive(proc, NULL))
			return 0;
		lnx_sleep_ms(LNX_POLL_MS);
	}
	if (kill(proc->pid, SIGKILL) < 0 && errno != ESRCH)
		return -errno;
	if (proc->is_child && !proc->exited) {
		while (waitpid(proc->pid, &st, __WALL) < 0) {
			if (errno != EINTR)
				return 0; /* reaped elsewhere */
		}
		lnx_note_exit(proc, proc->pid, st);
		return 0;
	}
	for (waited = 0; waited < LNX_TERM_GRACE_MS; waited += LNX_POLL_MS) {
		if (!lnx_alive(proc, NULL))
			return 0;
		lnx_sleep_ms(LNX_POLL_MS);
	}
	return -ETIMEDOUT;
}
