/*
 * py-spy record and py-spy top: attach to a process (or spawn a program),
 * open the outputs, run the sampler, and write everything out on every way
 * out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "host.h"
#include "log.h"
#include "outputs.h"
#include "remote.h"
#include "sampler.h"
#include "session.h"

/* How long the interpreter of a spawned program may take to start. */
#define SPAWN_WAIT_S 5.0
/* How long a spawned program that could not be read may take to end. */
#define ENDED_WAIT_NS 300000000ull

/* A program py-spy started: ended when py-spy ends first. */
struct child {
	struct remote r;  /* our own handle on it; r.proc NULL if none */
	int64_t pid;
	int exited;
	int capture_fd;   /* top: the program's output goes here, -1 if not */
};

/* Under sudo the program runs as the user who ran sudo. */
static void sudo_user(int64_t *uid, int64_t *gid)
{
	const char *u = getenv("SUDO_UID");
	const char *g = getenv("SUDO_GID");
	char *end;
	long long v;

	*uid = *gid = -1;
	if (!host_is_root() || !u || !g)
		return;
	v = strtoll(u, &end, 10);
	if (*u && !*end && v >= 0)
		*uid = v;
	v = strtoll(g, &end, 10);
	if (*g && !*end && v >= 0)
		*gid = v;
	if (*uid < 0 || *gid < 0)
		*uid = *gid = -1;
}

/*
 * Start cli's program.  Its stdout goes to stdout_fd (-1: ours).  For top
 * its stdout and stderr are captured while top owns the screen.
 */
static int child_spawn(struct plugins *pl, const struct cli *cli, int to_stderr,
		       int capture, struct child *c, char *err, size_t errlen)
{
	const struct plugin *backend;
	struct pyspy_spawn sp;
	int saved_stderr = -1;
	int rc;

	rc = plugins_backend(pl, &backend, err, errlen);
	if (rc != 0)
		return rc;
	remote_init(&c->r, plugin_backend_ops(backend), backend->host);

	memset(&sp, 0, sizeof(sp));
	sp.size = sizeof(sp);
	sp.argv = cli->spawn_argv;
	sp.stdout_fd = to_stderr ? 2 : -1;
	sudo_user(&sp.uid, &sp.gid);
	if (capture) {
		c->capture_fd = host_temp_fd();
		if (c->capture_fd >= 0) {
			sp.stdout_fd = c->capture_fd;
			/* The child inherits our stderr: point it at the file
			 * for the time of the spawn. */
			if (host_fd_redirect(c->capture_fd, 2, &saved_stderr) != 0)
				saved_stderr = -1;
		}
	}
	rc = remote_spawn(&c->r, &sp, &c->pid, err, errlen);
	host_fd_restore(saved_stderr, 2);
	if (rc != 0)
		return rc == -ENOSYS ? -ENOTSUP : rc;

	/* A handle of our own to know when it exits and to end it. */
	rc = remote_attach(&c->r, c->pid, err, errlen);
	if (rc == -ESRCH) {
		c->exited = 1;
		return 0;
	}
	return rc;
}

static int child_alive(void *ctx)
{
	struct child *c = ctx;
	int status;

	if (c->exited)
		return 0;
	if (c->r.proc && remote_alive(&c->r, &status) == 0)
		c->exited = 1;
	return !c->exited;
}

/* End the program if it still runs, and show what top captured of it. */
static void child_end(struct child *c)
{
	if (c->r.proc && child_alive(c))
		remote_terminate(&c->r);
	if (c->r.ops)
		remote_detach(&c->r);
	if (c->capture_fd >= 0) {
		host_fd_copy(c->capture_fd, stderr);
		host_fd_close(c->capture_fd);
		c->capture_fd = -1;
	}
}

static void print_start(const struct cli *cli, double rate)
{
	if (cli->duration > 0)
		log_status("Sampling process %g times a second for %g seconds. "
			   "Press Control-C to exit.", rate, cli->duration);
	else
		log_status("Sampling process %g times a second. Press Control-C to exit.",
			   rate);
}

/* How long a sample holds the first Python thread that stops while it
 * waits for the others, before it gives up: a sampling period, from 2 ms
 * (a thread that waits for a CPU on a loaded machine) to 10 ms. */
static uint64_t hold_timeout_ns(double rate)
{
	double ns = 1e9 / rate;

	if (ns < 2e6)
		ns = 2e6;
	if (ns > 1e7)
		ns = 1e7;
	return (uint64_t)ns;
}

/* How long the target was held stopped, and the samples that went wrong. */
static void print_costs(const struct cli *cli, const struct sampler_stats *st)
{
	double secs = (double)(st->end_ns - st->start_ns) / 1e9;
	double held = (double)st->paused_ns / 1e9;

	if (cli->nonblocking)
		log_status("Never stopped the process (--nonblocking) over %.2fs of "
			   "sampling. Failed samples: %llu, cut short: %llu", secs,
			   (unsigned long long)st->failed, (unsigned long long)st->truncated);
	else
		log_status("Held the process stopped for %.3fs in total over %.2fs of "
			   "sampling (%.2f%%). Failed samples: %llu, cut short: %llu, "
			   "given up (threads not stopped in time): %llu",
			   held, secs, secs > 0 ? 100.0 * held / secs : 0.0,
			   (unsigned long long)st->failed, (unsigned long long)st->truncated,
			   (unsigned long long)st->gave_up);
	log_status("Sampling instants: %llu (%.1f a second), %llu of them taken", (unsigned long long)st->ticks,
		   secs > 0 ? (double)st->ticks / secs : 0.0,
		   (unsigned long long)(st->ticks - st->failed - st->gave_up));
	if (!cli->nonblocking && st->holds)
		log_status("Hold per sample: median %.1f us, 99th percentile %.1f us (%llu holds)",
			   (double)sampler_hold_quantile(st, 0.5) / 1e3,
			   (double)sampler_hold_quantile(st, 0.99) / 1e3, (unsigned long long)st->holds);
	session_report_cuts(st->frames_omitted, st->stacks_omitting, st->lists_cut);
}

/*
 * A spawned program that ends before py-spy could take one sample: whether
 * it has ended (a program that is still shutting down is given a moment).
 */
static int child_ended_early(const struct cli *cli, struct child *c)
{
	uint64_t deadline = host_now_ns() + ENDED_WAIT_NS;

	if (cli->pid)
		return 0;
	while (child_alive(c)) {
		if (host_now_ns() >= deadline)
			return 0;
		host_wait_until(host_now_ns() + 10000000ull, -1);
	}
	return 1;
}

/*
 * The program ended before its first sample: say so, and for record still
 * write every output, empty but valid (an SVG that says no samples were
 * recorded, an empty collapsed file, a speedscope file without profiles),
 * so that a script that runs py-spy finds the file it asked for.
 */
static int finish_without_samples(struct outputs *o, const struct cli *cli,
				  const struct child *c, uint32_t command, uint64_t started)
{
	struct pyspy_process_info info;
	struct pyspy_run_summary sum;
	char err[1024];
	int rc;

	log_status("%s ended before its first sample", cli->spawn_argv[0]);
	if (command != PYSPY_CMD_RECORD)
		return 0;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.pid = c->pid;
	info.cmdline = cli->title;
	rc = outputs_start(o, &info, err, sizeof(err));
	if (rc != 0) {
		log_error("%s", err);
		return 1;
	}
	memset(&sum, 0, sizeof(sum));
	sum.size = sizeof(sum);
	sum.duration_s = (double)(host_now_ns() - started) / 1e9;
	sum.stop_reason = sampler_stop_reason(SAMPLER_STOP_EXITED);
	rc = outputs_finish(o, &sum);
	return rc == 0 || rc == -EPIPE ? 0 : 1;
}

static int run(struct plugins *pl, const struct cli *cli, uint32_t command)
{
	const int top = command == PYSPY_CMD_TOP;
	struct child child = { .capture_fd = -1 };
	struct sampler_options sopt;
	struct session_options so;
	struct pyspy_run_summary sum;
	struct sampler_stats st;
	struct outputs *o = NULL;
	struct session *s = NULL;
	double rate = cli->rate > 0 ? cli->rate : 100.0;
	uint64_t started = 0;
	char err[1024];
	int rc, ret = 1;

	if (!cli->pid && !(cli->spawn_argv && cli->spawn_argv[0])) {
		log_error("no process to profile: give --pid PID or a program after --");
		return 1;
	}
	if (rate > SAMPLER_MAX_RATE) {
		log_error("a rate of %g samples a second is too high (at most %g)", rate,
			  (double)SAMPLER_MAX_RATE);
		return 1;
	}
	rc = host_signals_install();
	if (rc != 0) {
		log_error("cannot install signal handlers: %s", strerror(-rc));
		return 1;
	}

	/* Files first: a bad path fails before anything starts. */
	rc = outputs_prepare(pl, cli, command, &o, err, sizeof(err));
	if (rc != 0) {
		log_error("%s", err);
		return 1;
	}

	memset(&so, 0, sizeof(so));
	so.pid = cli->pid;
	so.nonblocking = cli->nonblocking;
	so.show_lines = !cli->nolineno;
	so.by_function = cli->function;
	so.thread_frames = cli->threads;
	so.gil_only = cli->gil;
	so.hold_timeout_ns = hold_timeout_ns(rate);
	if (!cli->pid) {
		rc = child_spawn(pl, cli, !top && outputs_use_stdout(o), top, &child,
				 err, sizeof(err));
		if (rc != 0) {
			log_error("cannot start %s: %s", cli->spawn_argv[0], err);
			goto out_child;
		}
		so.pid = child.pid;
		so.wait_s = SPAWN_WAIT_S;
	}

	started = host_now_ns();
	rc = session_open(pl, &so, &s, err, sizeof(err));
	if (rc != 0 && child_ended_early(cli, &child)) {
		ret = finish_without_samples(o, cli, &child, command, started);
		goto out_child;
	}
	if (rc != 0) {
		log_error("%s", err);
		goto out_child;
	}
	rc = outputs_start(o, session_process(s), err, sizeof(err));
	if (rc != 0) {
		log_error("%s", err);
		goto out_session;
	}

	memset(&sopt, 0, sizeof(sopt));
	sopt.rate = rate;
	sopt.duration_s = cli->duration;
	sopt.tick_s = cli->delay > 0 ? cli->delay : 1.0;
	sopt.idle = cli->idle;
	sopt.gil = cli->gil;
	sopt.live = top;
	sopt.input_fd = top ? outputs_input_fd(o) : -1;
	sopt.report_lag = !top;
	if (child.r.proc) {
		sopt.alive = child_alive;
		sopt.alive_ctx = &child;
	}

	if (!top)
		print_start(cli, rate);
	rc = sampler_run(s, o, &sopt, &st);
	if (rc != 0) {
		log_error("cannot sample: %s", strerror(-rc));
		goto out_session;
	}
	if (top && st.stop == SAMPLER_STOP_EXITED)
		sampler_linger(o, &sopt, &st);

	memset(&sum, 0, sizeof(sum));
	sum.size = sizeof(sum);
	sum.samples = st.samples;
	sum.errors = st.errors;
	sum.duration_s = (double)(st.end_ns - st.start_ns) / 1e9;
	sum.stop_reason = sampler_stop_reason(st.stop);
	if (!top && st.stop == SAMPLER_STOP_EXITED && st.taken == 0 && !cli->pid)
		log_status("%s ended before its first sample", cli->spawn_argv[0]);
	else if (!top)
		log_status("Stopped sampling because %s", sum.stop_reason);
	rc = outputs_finish(o, &sum);
	/* A closed stdout ends py-spy quietly; the rest was written. */
	if (rc == 0 || rc == -EPIPE)
		ret = st.stop == SAMPLER_STOP_ERROR ? 1 : 0;
	if (!top && st.stop != SAMPLER_STOP_PIPE)
		print_costs(cli, &st);

out_session:
	if (s)
		session_close(s);
out_child:
	child_end(&child);
	outputs_close(o);
	return ret;
}

int cmd_record(struct plugins *pl, const struct cli *cli)
{
	return run(pl, cli, PYSPY_CMD_RECORD);
}

int cmd_top(struct plugins *pl, const struct cli *cli)
{
	return run(pl, cli, PYSPY_CMD_TOP);
}
