/*
 * The top output module (build/modules/outputs/top.so), loaded as the core
 * loads it and run in its plain-text mode (the stream is not a terminal):
 * synthetic samples in, the printed header and table checked.  Keys are
 * written to a pipe handed over as input_fd.  One test runs the terminal
 * view on a pseudo-terminal and checks that its modes are given back.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <pyspy/module.h>
#include <pyspy/output.h>

#include "unit.h"

static void *top_handle;
static const struct pyspy_output_ops *top_ops;

static int top_suite_init(void)
{
	const struct pyspy_module *mod;

	mod = unit_load_module("modules/outputs/top.so", PYSPY_KIND_OUTPUT, &top_handle);
	if (!mod)
		return -1;
	top_ops = mod->ops;
	return 0;
}

static int top_suite_clean(void)
{
	if (top_handle)
		dlclose(top_handle);
	return 0;
}

/* Strings as the core hands them: one address per distinct string. */
static const char n_hot[] = "hot";
static const char n_warm[] = "w\xc3\xa4rme_\xc3\xb1"; /* "wärme_ñ" */
static const char n_main[] = "main";
static const char n_module[] = "<module>";
static const char n_rec[] = "rec";
static const char n_idle[] = "idle_wait";
static const char n_bad[] = "bad\x1b[31mname\xff";
static const char file_app[] = "/srv/app/hot.py";
static const char short_app[] = "hot.py";
static const char thread_label[] = "thread (0x1)";

#define FRAME(n, l) { n, file_app, short_app, l, 0, 0, 0, NULL, 0, 0 }

static const struct pyspy_process_info tt_proc = {
	.size = sizeof(struct pyspy_process_info),
	.pid = 4321,
	.cmdline = "python hot.py",
	.python_version = "3.11.2",
	.python_path = "/usr/bin/python3.11",
};

struct tt_run {
	FILE *out;
	void *state;
	int keys[2];    /* pipe: keys[1] is written, keys[0] is input_fd */
	char err[256];
};

static void tt_open(struct tt_run *r, int full_filenames)
{
	struct pyspy_output_config cfg = {
		.size = sizeof(cfg),
		.command = PYSPY_CMD_TOP,
		.process = &tt_proc,
		.rate = 100,
		.delay = 1,
		.show_lines = 1,
		.full_filenames = (uint8_t)full_filenames,
		.is_tty = 0,
	};
	int ret;

	memset(r, 0, sizeof(*r));
	r->out = tmpfile();
	CU_ASSERT_FATAL(r->out != NULL);
	CU_ASSERT_FATAL(pipe(r->keys) == 0);
	cfg.input_fd = r->keys[0];
	ret = top_ops->open(unit_host(), &cfg, r->out, &r->state, r->err, sizeof(r->err));
	CU_ASSERT_EQUAL_FATAL(ret, 0);
}

static void tt_close(struct tt_run *r)
{
	struct pyspy_run_summary sum = { .size = sizeof(sum), .stop_reason = "test" };

	CU_ASSERT_EQUAL(top_ops->finish(r->state, &sum, r->err, sizeof(r->err)), 0);
	top_ops->close(r->state);
	fclose(r->out);
	close(r->keys[0]);
	close(r->keys[1]);
}

/* One sample: a running thread with `frames`, and an idle thread. */
static void tt_sample(struct tt_run *r, const struct pyspy_frame *frames, uint32_t n,
		      int gil, uint32_t errors)
{
	static const struct pyspy_frame idle[] = { FRAME(n_idle, 5), FRAME(n_module, 50) };
	struct pyspy_stack stacks[2] = {
		{ .pid = 4321, .thread_id = 1, .active = 1, .owns_gil = (uint8_t)gil,
		  .nframes = n, .frame_size = sizeof(struct pyspy_frame), .frames = frames },
		{ .pid = 4321, .thread_id = 2, .active = 0, .owns_gil = 0,
		  .nframes = 2, .frame_size = sizeof(struct pyspy_frame), .frames = idle },
	};
	struct pyspy_sample s = {
		.size = sizeof(s), .nstacks = 2, .stack_size = sizeof(struct pyspy_stack),
		.stacks = stacks, .errors = errors,
	};

	CU_ASSERT_EQUAL(top_ops->sample(r->state, &s, r->err, sizeof(r->err)), 0);
}

static int tt_event(struct tt_run *r, uint32_t type)
{
	struct pyspy_event ev = { .size = sizeof(ev), .type = type, .message = NULL };

	return top_ops->event(r->state, &ev, r->err, sizeof(r->err));
}

static int tt_key(struct tt_run *r, const char *keys)
{
	CU_ASSERT_EQUAL((size_t)write(r->keys[1], keys, strlen(keys)), strlen(keys));
	return tt_event(r, PYSPY_EVENT_INPUT);
}

/* Everything printed so far; static buffer, NUL-terminated. */
static const char *tt_output(struct tt_run *r)
{
	static char buf[1 << 16];
	size_t n;

	fflush(r->out);
	rewind(r->out);
	n = fread(buf, 1, sizeof(buf) - 1, r->out);
	buf[n] = '\0';
	fseek(r->out, 0, SEEK_END);
	return buf;
}

/* The last table printed. */
static const char *tt_last_table(struct tt_run *r)
{
	const char *all = tt_output(r), *p = all, *last = NULL;

	while ((p = strstr(p, "Collecting samples from")) != NULL)
		last = p++;
	return last ? last : "";
}

/* The nth (0-based) row of a table: the line nth after the column header. */
static int tt_row(const char *table, int nth, char *row, size_t len)
{
	const char *p = strstr(table, "Function (");
	const char *end;

	if (!p)
		return -1;
	p = strchr(p, '\n');
	while (p && nth-- > 0)
		p = strchr(p + 1, '\n');
	if (!p || p[1] == '\n' || p[1] == '\0')
		return -1;
	p++;
	end = strchr(p, '\n');
	if (!end || (size_t)(end - p) >= len)
		return -1;
	memcpy(row, p, (size_t)(end - p));
	row[end - p] = '\0';
	return 0;
}

static int tt_count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s++;
	}
	return n;
}

/* 7 samples in hot (two lines), 3 in wärme_ñ; an idle thread throughout. */
static void tt_feed_mix(struct tt_run *r)
{
	static const struct pyspy_frame hot10[] = {
		FRAME(n_hot, 10), FRAME(n_main, 30), FRAME(n_module, 40),
	};
	static const struct pyspy_frame hot12[] = {
		FRAME(n_hot, 12), FRAME(n_main, 31), FRAME(n_module, 40),
	};
	static const struct pyspy_frame warm[] = {
		FRAME(n_warm, 20), FRAME(n_main, 32), FRAME(n_module, 40),
	};
	int i;

	for (i = 0; i < 6; i++)
		tt_sample(r, hot10, 3, 1, 0);
	tt_sample(r, hot12, 3, 1, 0);
	for (i = 0; i < 3; i++)
		tt_sample(r, warm, 3, 0, 0);
}

static void test_header_and_order(void)
{
	struct tt_run r;
	const char *t;
	char row[512];

	tt_open(&r, 0);
	tt_feed_mix(&r);
	/* nothing is printed before the refresh */
	CU_ASSERT_STRING_EQUAL(tt_output(&r), "");
	CU_ASSERT_EQUAL(tt_event(&r, PYSPY_EVENT_TICK), PYSPY_CONTINUE);
	t = tt_last_table(&r);
	CU_ASSERT(strncmp(t, "Collecting samples from 'python hot.py' (python v3.11.2)\n",
			  57) == 0);
	CU_ASSERT(strstr(t, "\nTotal Samples 10\n") != NULL);
	/* 7 of 10 samples hold the GIL; the idle thread is not active */
	CU_ASSERT(strstr(t, "\nGIL: 70.00%, Active: 100.00%, Threads: 2\n") != NULL);
	CU_ASSERT(strstr(t, "Function (filename)\n") != NULL);
	CU_ASSERT(strstr(t, "Error Rate") == NULL);

	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, " 70.00%  70.00%    0.07s     0.07s   hot (hot.py)");
	CU_ASSERT_FATAL(tt_row(t, 1, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row,
			       " 30.00%  30.00%    0.03s     0.03s   w\xc3\xa4rme_\xc3\xb1 (hot.py)");
	/* no own time: ordered by total, then by name */
	CU_ASSERT_FATAL(tt_row(t, 2, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "  0.00% 100.00%    0.00s     0.10s   <module> (hot.py)");
	CU_ASSERT_FATAL(tt_row(t, 3, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "  0.00% 100.00%    0.00s     0.10s   main (hot.py)");
	CU_ASSERT(tt_row(t, 4, row, sizeof(row)) != 0);
	/* the idle thread is left out */
	CU_ASSERT(strstr(t, "idle_wait") == NULL);
	tt_close(&r);
}

/* Percentages are per refresh window, times cumulative; recursion counts
 * once in total. */
static void test_windows_and_recursion(void)
{
	static const struct pyspy_frame recur[] = {
		FRAME(n_rec, 3), FRAME(n_rec, 4), FRAME(n_rec, 4), FRAME(n_main, 9),
	};
	static const struct pyspy_frame only_main[] = { FRAME(n_main, 9) };
	struct tt_run r;
	const char *t;
	char row[512];
	int i;

	tt_open(&r, 0);
	for (i = 0; i < 4; i++)
		tt_sample(&r, recur, 4, 1, 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "100.00% 100.00%    0.04s     0.04s   rec (hot.py)");

	for (i = 0; i < 2; i++)
		tt_sample(&r, only_main, 1, 0, 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT(strstr(t, "\nTotal Samples 6\n") != NULL);
	CU_ASSERT(strstr(t, "\nGIL: 0.00%, Active: 100.00%, Threads: 2\n") != NULL);
	/* rec has more own time overall although none in this window */
	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "  0.00%   0.00%    0.04s     0.04s   rec (hot.py)");
	CU_ASSERT_FATAL(tt_row(t, 1, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "100.00% 100.00%    0.02s     0.06s   main (hot.py)");
	CU_ASSERT_EQUAL(tt_count(tt_output(&r), "Collecting samples from"), 2);
	tt_close(&r);
}

static void test_error_rate(void)
{
	static const struct pyspy_frame one[] = { FRAME(n_main, 9) };
	struct tt_run r;
	int i;

	/* 3 errors in 150 samples: 2% */
	tt_open(&r, 0);
	for (i = 0; i < 150; i++)
		tt_sample(&r, one, 1, 1, i < 3 ? 1 : 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 150, Error Rate 2.00% (3)\n") != NULL);
	tt_close(&r);

	/* 1 in 150 is under 1%: not shown */
	tt_open(&r, 0);
	for (i = 0; i < 150; i++)
		tt_sample(&r, one, 1, 1, i < 1 ? 1 : 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 150\n") != NULL);
	tt_close(&r);

	/* 10 in 50: too few samples to say */
	tt_open(&r, 0);
	for (i = 0; i < 50; i++)
		tt_sample(&r, one, 1, 1, i < 10 ? 1 : 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 50\n") != NULL);
	tt_close(&r);
}

/* Late samples: a warning once a tenth are late and the latest is more
 * than a second behind. */
static void test_lag_warning(void)
{
	static const struct pyspy_frame one[] = { FRAME(n_main, 9) };
	struct pyspy_stack st = { .thread_id = 1, .active = 1, .nframes = 1,
				  .frame_size = sizeof(struct pyspy_frame), .frames = one };
	struct pyspy_sample s = { .size = sizeof(s), .nstacks = 1,
				  .stack_size = sizeof(struct pyspy_stack), .stacks = &st };
	struct tt_run r;
	int i;

	tt_open(&r, 0);
	for (i = 0; i < 10; i++) {
		s.lag_s = i >= 8 ? 1.5 : 0.0;   /* 2 of 10 late */
		CU_ASSERT_EQUAL(top_ops->sample(r.state, &s, r.err, sizeof(r.err)), 0);
	}
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r),
			 "\nWarning: sampling is 1.50s behind (20% of the samples late)") != NULL);

	/* 1 of 20 late: no warning */
	for (i = 0; i < 20; i++) {
		s.lag_s = i == 19 ? 3.0 : 0.001;
		CU_ASSERT_EQUAL(top_ops->sample(r.state, &s, r.err, sizeof(r.err)), 0);
	}
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r), "Warning") == NULL);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 30\n") != NULL);
	tt_close(&r);
}

static void test_keys(void)
{
	struct tt_run r;
	const char *t, *col;
	char row[512];

	tt_open(&r, 0);
	tt_feed_mix(&r);

	/* L: one row per line */
	CU_ASSERT_EQUAL(tt_key(&r, "L"), PYSPY_CONTINUE);
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT(strstr(t, "Function (filename:line)\n") != NULL);
	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, " 60.00%  60.00%    0.06s     0.06s   hot (hot.py:10)");
	CU_ASSERT(strstr(t, "   hot (hot.py:12)\n") != NULL);
	CU_ASSERT(strstr(t, "   <module> (hot.py:40)\n") != NULL);

	/* 4: by TotalTime; the header marks the column */
	tt_feed_mix(&r);
	CU_ASSERT_EQUAL(tt_key(&r, "l4"), PYSPY_CONTINUE);
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT(strstr(t, "Function (filename)\n") != NULL);
	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, "  0.00% 100.00%    0.00s     0.20s   <module> (hot.py)");
	col = strstr(t, "TotalTime");
	CU_ASSERT_FATAL(col != NULL);
	CU_ASSERT(col[-1] != ' ');
	col = strstr(t, "OwnTime");
	CU_ASSERT_FATAL(col != NULL);
	CU_ASSERT(col[-1] == ' ');

	/* 4 again: reversed, smallest total first */
	tt_key(&r, "4");
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT_FATAL(tt_row(t, 0, row, sizeof(row)) == 0);
	CU_ASSERT(strstr(row, "w\xc3\xa4rme_\xc3\xb1 (hot.py)") != NULL);

	/* R: everything is dropped */
	tt_key(&r, "R");
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_last_table(&r);
	CU_ASSERT(strstr(t, "\nTotal Samples 0\n") != NULL);
	CU_ASSERT(tt_row(t, 0, row, sizeof(row)) != 0);

	/* P: sampling goes on, the display stops */
	tt_key(&r, "P");
	tt_feed_mix(&r);
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT_EQUAL(tt_count(tt_output(&r), "Collecting samples from"), 4);
	tt_key(&r, "p");
	tt_event(&r, PYSPY_EVENT_TICK);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 10\n") != NULL);

	/* q and Control-C quit */
	CU_ASSERT_EQUAL(tt_key(&r, "xq"), PYSPY_QUIT);
	CU_ASSERT_EQUAL(tt_key(&r, "\x03"), PYSPY_QUIT);
	tt_close(&r);
}

/* Names from the target cannot write escape sequences to the terminal. */
static void test_escapes_and_filenames(void)
{
	static const struct pyspy_frame bad[] = {
		FRAME(n_bad, 1),
		{ thread_label, NULL, NULL, 0, PYSPY_FRAME_THREAD, 0, 0, NULL, 0, 0 },
	};
	struct tt_run r;
	const char *t;

	tt_open(&r, 1);
	tt_sample(&r, bad, 2, 1, 0);
	tt_event(&r, PYSPY_EVENT_TICK);
	t = tt_output(&r);
	CU_ASSERT(strchr(t, 0x1b) == NULL);
	CU_ASSERT(strstr(t, "   bad\\x1b[31mname\xef\xbf\xbd (/srv/app/hot.py)\n") != NULL);
	/* pseudo-frames are not functions */
	CU_ASSERT(strstr(t, "thread (0x1)") == NULL);
	tt_close(&r);
}

/* A huge command line is cut, the version still shown; control
 * characters in it are escaped. */
static void test_long_cmdline(void)
{
	static char cmdline[5000];
	struct pyspy_process_info proc = tt_proc;
	struct pyspy_output_config cfg = {
		.size = sizeof(cfg), .command = PYSPY_CMD_TOP, .process = &proc,
		.rate = 100, .delay = 1, .input_fd = -1,
	};
	struct pyspy_run_summary sum = { .size = sizeof(sum), .stop_reason = "test" };
	struct pyspy_event tick = { .size = sizeof(tick), .type = PYSPY_EVENT_TICK };
	char err[256], first[4096];
	void *state;
	FILE *out = tmpfile();
	size_t n;

	CU_ASSERT_FATAL(out != NULL);
	memset(cmdline, 'a', sizeof(cmdline) - 1);
	cmdline[0] = '\r';
	proc.cmdline = cmdline;
	CU_ASSERT_EQUAL_FATAL(top_ops->open(unit_host(), &cfg, out, &state, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(top_ops->event(state, &tick, err, sizeof(err)), PYSPY_CONTINUE);
	CU_ASSERT_EQUAL(top_ops->finish(state, &sum, err, sizeof(err)), 0);
	top_ops->close(state);
	rewind(out);
	CU_ASSERT_FATAL(fgets(first, sizeof(first), out) != NULL);
	n = strlen(first);
	CU_ASSERT(strncmp(first, "Collecting samples from '\\x0daaa", 32) == 0);
	CU_ASSERT(n > 1000 && n < 2100);
	CU_ASSERT(n > 21 && strcmp(first + n - 21, "aa' (python v3.11.2)\n") == 0);
	fclose(out);
}

/* Piped, the target's exit prints the last table and quits; finish then
 * prints nothing more. */
static void test_target_exit(void)
{
	struct tt_run r;
	struct pyspy_event ev = {
		.size = sizeof(ev), .type = PYSPY_EVENT_TARGET_EXIT, .message = "process exited",
	};
	struct pyspy_run_summary sum = { .size = sizeof(sum), .stop_reason = "process exited" };
	char row[512];

	tt_open(&r, 0);
	tt_feed_mix(&r);
	CU_ASSERT_EQUAL(top_ops->event(r.state, &ev, r.err, sizeof(r.err)), PYSPY_QUIT);
	CU_ASSERT_FATAL(tt_row(tt_last_table(&r), 0, row, sizeof(row)) == 0);
	CU_ASSERT_STRING_EQUAL(row, " 70.00%  70.00%    0.07s     0.07s   hot (hot.py)");
	CU_ASSERT_EQUAL(top_ops->finish(r.state, &sum, r.err, sizeof(r.err)), 0);
	CU_ASSERT_EQUAL(tt_count(tt_output(&r), "Collecting samples from"), 1);
	top_ops->close(r.state);
	fclose(r.out);
	close(r.keys[0]);
	close(r.keys[1]);
}

/* Control-C while piped: finish prints what arrived since the last table. */
static void test_finish_prints_rest(void)
{
	struct pyspy_run_summary sum = { .size = sizeof(sum), .stop_reason = "Control-C pressed" };
	struct tt_run r;

	tt_open(&r, 0);
	tt_feed_mix(&r);
	CU_ASSERT_EQUAL(top_ops->finish(r.state, &sum, r.err, sizeof(r.err)), 0);
	CU_ASSERT(strstr(tt_last_table(&r), "\nTotal Samples 10\n") != NULL);
	top_ops->close(r.state);
	fclose(r.out);
	close(r.keys[0]);
	close(r.keys[1]);
}

/* Read what the view wrote to the pseudo-terminal so far. */
static size_t tt_drain(int master, char *buf, size_t len, size_t used)
{
	ssize_t r;

	while (used + 1 < len && (r = read(master, buf + used, len - used - 1)) > 0)
		used += (size_t)r;
	buf[used] = '\0';
	return used;
}

/* On a terminal: raw modes while running, the user's modes back after
 * finish (and close after finish does not touch them again). */
static void test_terminal_restored(void)
{
	struct pyspy_output_config cfg = {
		.size = sizeof(cfg), .command = PYSPY_CMD_TOP, .process = &tt_proc,
		.rate = 100, .delay = 1, .is_tty = 1,
	};
	struct pyspy_run_summary sum = { .size = sizeof(sum), .stop_reason = "quit" };
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	struct termios before, during, after;
	static char screen[1 << 16];
	const char *old_term = getenv("TERM");
	char saved_term[64] = "";
	struct tt_run r;
	int master, slave;
	size_t used = 0, before_l;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	CU_ASSERT_FATAL(master >= 0);
	CU_ASSERT_FATAL(grantpt(master) == 0 && unlockpt(master) == 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	CU_ASSERT_FATAL(slave >= 0);
	CU_ASSERT_FATAL(ioctl(slave, TIOCSWINSZ, &ws) == 0);
	fcntl(master, F_SETFL, O_NONBLOCK);
	CU_ASSERT_FATAL(tcgetattr(slave, &before) == 0);
	CU_ASSERT_FATAL(before.c_lflag & ICANON);

	if (old_term)
		snprintf(saved_term, sizeof(saved_term), "%s", old_term);
	setenv("TERM", "xterm", 1);
	memset(&r, 0, sizeof(r));
	r.out = fdopen(dup(slave), "w");
	CU_ASSERT_FATAL(r.out != NULL);
	cfg.input_fd = slave;
	CU_ASSERT_EQUAL_FATAL(top_ops->open(unit_host(), &cfg, r.out, &r.state, r.err,
					    sizeof(r.err)), 0);

	/* raw: no line editing, no echo, Control-C is a key */
	CU_ASSERT(tcgetattr(slave, &during) == 0);
	CU_ASSERT((during.c_lflag & (ICANON | ECHO | ISIG)) == 0);
	tt_feed_mix(&r);
	CU_ASSERT_EQUAL(tt_event(&r, PYSPY_EVENT_TICK), PYSPY_CONTINUE);
	used = tt_drain(master, screen, sizeof(screen), used);
	CU_ASSERT(strstr(screen, "Collecting samples from 'python hot.py'") != NULL);
	CU_ASSERT(strstr(screen, "hot (hot.py)") != NULL);
	CU_ASSERT(strchr(screen, 0x1b) != NULL);        /* drawn, not printed */

	/* a key other than q does not quit; q does */
	before_l = used;
	CU_ASSERT_EQUAL(write(master, "L", 1), 1);
	CU_ASSERT_EQUAL(tt_event(&r, PYSPY_EVENT_INPUT), PYSPY_CONTINUE);
	used = tt_drain(master, screen, sizeof(screen), used);
	/* curses sends only what changed: the line number after the name */
	CU_ASSERT(strstr(screen + before_l, ":10)") != NULL);
	CU_ASSERT_EQUAL(write(master, "q", 1), 1);
	CU_ASSERT_EQUAL(tt_event(&r, PYSPY_EVENT_INPUT), PYSPY_QUIT);

	CU_ASSERT_EQUAL(top_ops->finish(r.state, &sum, r.err, sizeof(r.err)), 0);
	CU_ASSERT(tcgetattr(slave, &after) == 0);
	CU_ASSERT_EQUAL(after.c_lflag, before.c_lflag);
	CU_ASSERT_EQUAL(after.c_iflag, before.c_iflag);
	CU_ASSERT_EQUAL(after.c_oflag, before.c_oflag);
	top_ops->close(r.state);
	CU_ASSERT(tcgetattr(slave, &after) == 0);
	CU_ASSERT_EQUAL(after.c_lflag, before.c_lflag);

	if (saved_term[0])
		setenv("TERM", saved_term, 1);
	else
		unsetenv("TERM");
	fclose(r.out);
	close(slave);
	close(master);
}

UNIT_SUITE(top_suite)
{
	CU_pSuite s = CU_add_suite("output_top", top_suite_init, top_suite_clean);

	CU_add_test(s, "header, percentages, order by own time", test_header_and_order);
	CU_add_test(s, "refresh windows, cumulative times, recursion", test_windows_and_recursion);
	CU_add_test(s, "error rate shown only when it matters", test_error_rate);
	CU_add_test(s, "lag warning", test_lag_warning);
	CU_add_test(s, "keys: L, 1-4, R, P, q, Control-C", test_keys);
	CU_add_test(s, "escapes, full filenames, pseudo-frames", test_escapes_and_filenames);
	CU_add_test(s, "a huge command line is cut", test_long_cmdline);
	CU_add_test(s, "target exit prints the last table and quits", test_target_exit);
	CU_add_test(s, "finish prints the samples since the last table", test_finish_prints_rest);
	CU_add_test(s, "terminal: raw while running, modes restored by finish",
		    test_terminal_restored);
}
