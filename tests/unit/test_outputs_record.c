/*
 * The record outputs (build/modules/outputs/{collapsed,speedscope,
 * flamegraph}.so), loaded as the core loads them, fed synthetic samples of
 * two threads (non-ASCII names, <&"'>, ';', control characters, invalid
 * UTF-8, a pseudo-frame, an empty stack) and checked on their text.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pyspy/module.h>
#include <pyspy/output.h>

#include "unit.h"

/* Element sizes of the arrays this file hands the outputs (ABI v2). */
#define FS sizeof(struct pyspy_frame)
#define SS sizeof(struct pyspy_stack)

/* --- the modules, loaded with unit_load_module -------------------------- */

struct loaded {
	const char *name;
	void *handle;
	const struct pyspy_module *mod;
	const struct pyspy_output_ops *ops;
};

static struct loaded mods[] = {
	{ .name = "collapsed" }, { .name = "speedscope" }, { .name = "flamegraph" },
	{ .name = "pprof" }, { .name = "chrometrace" },
};

static const struct pyspy_output_ops *ops_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		if (strcmp(mods[i].name, name) == 0)
			return mods[i].ops;
	}
	return NULL;
}

static int rec_suite_init(void)
{
	char rel[64];
	size_t i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		snprintf(rel, sizeof(rel), "modules/outputs/%s.so", mods[i].name);
		mods[i].mod = unit_load_module(rel, PYSPY_KIND_OUTPUT, &mods[i].handle);
		if (!mods[i].mod)
			return -1;
		mods[i].ops = mods[i].mod->ops;
	}
	return 0;
}

static int rec_suite_clean(void)
{
	size_t i;

	unit_host_options(NULL);
	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		if (mods[i].handle)
			dlclose(mods[i].handle);
	}
	return 0;
}

/* --- the samples: strings interned once, as the core does -------------- */

static const char s_module[] = "<module>", s_foo[] = "foo";
static const char s_main[] = "/app/main.py", s_main_short[] = "main.py";
static const char s_lib[] = "/app/pkg/lib.py", s_lib_short[] = "pkg/lib.py";
static const char s_odd[] = "a;b <&\"'> c\\d";
static const char s_ctrl[] = "new\nline\ttab";
static const char s_uni[] = "na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0\xf0\x9f\x90\x8d";
static const char s_bad[] = "bad\xff\xc3(x";
static const char s_thread[] = "thread (4331): Worker-1";
static const char s_empty[] = "";
static const char s_mainthread[] = "MainThread", s_worker[] = "Worker-1";

/* frames[] are innermost first */
static const struct pyspy_frame fr_a[] = {      /* main: foo line 5 */
	{ s_foo, s_lib, s_lib_short, 5, 0, 0, 0, NULL, 0, 0 },
	{ s_module, s_main, s_main_short, 9, 0, 0, 0, NULL, 0, 0 },
};
static const struct pyspy_frame fr_b[] = {      /* main: the odd name */
	{ s_odd, s_lib, s_lib_short, 7, 0, 0, 0, NULL, 0, 0 },
	{ s_module, s_main, s_main_short, 9, 0, 0, 0, NULL, 0, 0 },
};
static const struct pyspy_frame fr_c[] = {      /* worker */
	{ s_uni, s_lib, s_lib_short, 12, 0, 0, 0, NULL, 0, 0 },
	{ s_ctrl, s_lib, s_lib_short, 13, 0, 0, 0, NULL, 0, 0 },
	{ s_thread, s_empty, s_empty, 0, PYSPY_FRAME_THREAD, 0, 0, NULL, 0, 0 },
};
static const struct pyspy_frame fr_d[] = {      /* worker: invalid UTF-8 */
	{ s_bad, s_main, s_main_short, 20, 0, 0, 0, NULL, 0, 0 },
	{ s_thread, s_empty, s_empty, 0, PYSPY_FRAME_THREAD, 0, 0, NULL, 0, 0 },
};
static const struct pyspy_frame fr_e[] = {      /* main: foo line 6 */
	{ s_foo, s_lib, s_lib_short, 6, 0, 0, 0, NULL, 0, 0 },
	{ s_module, s_main, s_main_short, 9, 0, 0, 0, NULL, 0, 0 },
};

#define STACK(tid, ostid, tname, fr) \
	{ .pid = 77, .thread_id = tid, .os_thread_id = ostid, .thread_name = tname, \
	  .active = 1, .nframes = sizeof(fr) / sizeof(fr[0]), .frame_size = FS, .frames = fr }

static const struct pyspy_stack st_a = STACK(100, 4321, s_mainthread, fr_a);
static const struct pyspy_stack st_b = STACK(100, 4321, s_mainthread, fr_b);
static const struct pyspy_stack st_c = STACK(200, 4331, s_worker, fr_c);
static const struct pyspy_stack st_d = STACK(200, 4331, s_worker, fr_d);
static const struct pyspy_stack st_e = STACK(100, 4321, s_mainthread, fr_e);
static const struct pyspy_stack st_none = { .pid = 77, .thread_id = 300, .nframes = 0 };

/* s1 {A, C}, s2 {A, D}, s3 {B, C}, s4 {E}, s5 {A, empty stack} */
static struct pyspy_stack samples_stacks[5][2];
static struct pyspy_sample samples[5];

static void build_samples(void)
{
	const struct pyspy_stack *plan[5][2] = {
		{ &st_a, &st_c }, { &st_a, &st_d }, { &st_b, &st_c }, { &st_e, NULL },
		{ &st_a, &st_none },
	};
	int i, j;

	for (i = 0; i < 5; i++) {
		samples[i].size = sizeof(samples[i]);
		samples[i].time_ns = (uint64_t)i * 10000000;
		samples[i].stacks = samples_stacks[i];
		samples[i].stack_size = sizeof(samples_stacks[i][0]);
		samples[i].nstacks = 0;
		for (j = 0; j < 2 && plan[i][j]; j++)
			samples_stacks[i][samples[i].nstacks++] = *plan[i][j];
	}
}

struct run {
	int open_rc, sample_rc, finish_rc;
	char err[256];
	char *out;
	size_t len;
};

/* open, sample each of samples[0..n), finish, close, on a memory stream */
static void run_module(const char *name, struct pyspy_output_config *cfg,
		       const struct pyspy_sample *smp, size_t n, struct run *r)
{
	const struct pyspy_output_ops *ops = ops_of(name);
	struct pyspy_run_summary sum = { .size = sizeof(sum), .samples = n };
	FILE *f;
	void *state = NULL;
	size_t i;

	memset(r, 0, sizeof(*r));
	f = open_memstream(&r->out, &r->len);
	CU_ASSERT_FATAL(ops != NULL && f != NULL);
	cfg->size = sizeof(*cfg);
	cfg->command = PYSPY_CMD_RECORD;
	cfg->input_fd = -1;
	r->open_rc = ops->open(unit_host(), cfg, f, &state, r->err, sizeof(r->err));
	if (r->open_rc == 0) {
		for (i = 0; i < n && !r->sample_rc; i++)
			r->sample_rc = ops->sample(state, &smp[i], r->err, sizeof(r->err));
		r->finish_rc = ops->finish(state, &sum, r->err, sizeof(r->err));
		ops->close(state);
	}
	fclose(f);
}

/* Sort the lines of text in place (for outputs whose line order is free). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_lines(const char *text)
{
	char *copy = strdup(text), *lines[64], *p, *out;
	size_t n = 0, i, len = strlen(text) + 1;

	for (p = strtok(copy, "\n"); p && n < 64; p = strtok(NULL, "\n"))
		lines[n++] = p;
	qsort(lines, n, sizeof(lines[0]), cmp_str);
	out = calloc(1, len + 1);
	for (i = 0; i < n; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
	}
	free(copy);
	return out;
}

static size_t count_of(const char *text, const char *needle)
{
	size_t n = 0;
	const char *p = text;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

/* --- descriptors ---------------------------------------------------------- */

static void test_descriptors(void)
{
	const struct pyspy_output_ops *c = ops_of("collapsed");
	const struct pyspy_output_ops *s = ops_of("speedscope");
	const struct pyspy_output_ops *f = ops_of("flamegraph");

	CU_ASSERT_STRING_EQUAL(mods[0].mod->name, "collapsed");
	CU_ASSERT_STRING_EQUAL(mods[1].mod->name, "speedscope");
	CU_ASSERT_STRING_EQUAL(mods[2].mod->name, "flamegraph");
	CU_ASSERT_EQUAL(c->commands, PYSPY_CMD_RECORD);
	CU_ASSERT_EQUAL(s->commands, PYSPY_CMD_RECORD);
	CU_ASSERT_EQUAL(f->commands, PYSPY_CMD_RECORD);
	CU_ASSERT_STRING_EQUAL(c->aliases, "raw");
	CU_ASSERT_STRING_EQUAL(c->extension, "txt");
	CU_ASSERT_EQUAL(c->to_stdout, 1);
	CU_ASSERT_STRING_EQUAL(s->extension, "json");
	CU_ASSERT_EQUAL(s->to_stdout, 0);
	CU_ASSERT_STRING_EQUAL(f->aliases, "svg");
	CU_ASSERT_STRING_EQUAL(f->extension, "svg");
	CU_ASSERT_EQUAL(f->to_stdout, 0);
	CU_ASSERT(c->size == sizeof(struct pyspy_output_ops) && c->sample && c->finish && c->close);
	CU_ASSERT(s->sample && s->finish && s->close && f->sample && f->finish && f->close);
	CU_ASSERT_STRING_EQUAL(ops_of("pprof")->extension, "pb.gz");
	CU_ASSERT_STRING_EQUAL(ops_of("pprof")->extensions, "pb.gz, pprof");
	CU_ASSERT_STRING_EQUAL(ops_of("chrometrace")->extension, "trace.json");
	CU_ASSERT_EQUAL(ops_of("pprof")->commands, PYSPY_CMD_RECORD);
	CU_ASSERT_EQUAL(ops_of("chrometrace")->commands, PYSPY_CMD_RECORD);
}

/* --- collapsed ------------------------------------------------------------ */

static void test_collapsed_lines(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	struct run r;
	char *got;

	build_samples();
	run_module("collapsed", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, 0);
	CU_ASSERT_EQUAL(r.sample_rc, 0);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	got = sorted_lines(r.out);
	CU_ASSERT_STRING_EQUAL(got,
		"<module> (main.py:9);a:b <&\"'> c\\d (pkg/lib.py:7) 1\n"
		"<module> (main.py:9);foo (pkg/lib.py:5) 3\n"
		"<module> (main.py:9);foo (pkg/lib.py:6) 1\n"
		"thread (4331): Worker-1;bad\xef\xbf\xbd\xef\xbf\xbd(x (main.py:20) 1\n"
		"thread (4331): Worker-1;new?line?tab (pkg/lib.py:13);"
		"na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0\xf0\x9f\x90\x8d (pkg/lib.py:12) 2\n");
	/* no other lines, every line ends in a newline */
	CU_ASSERT_EQUAL(count_of(r.out, "\n"), 5);
	CU_ASSERT_EQUAL(r.out[r.len - 1], '\n');
	free(got);
	free(r.out);
}

static void test_collapsed_no_lines_full_names(void)
{
	struct pyspy_output_config cfg = { .show_lines = 0, .full_filenames = 1, .rate = 100 };
	struct run r;
	char *got;

	build_samples();
	run_module("collapsed", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	got = sorted_lines(r.out);
	/* foo:5 and foo:6 are one frame without line numbers */
	CU_ASSERT_STRING_EQUAL(got,
		"<module> (/app/main.py);a:b <&\"'> c\\d (/app/pkg/lib.py) 1\n"
		"<module> (/app/main.py);foo (/app/pkg/lib.py) 4\n"
		"thread (4331): Worker-1;bad\xef\xbf\xbd\xef\xbf\xbd(x (/app/main.py) 1\n"
		"thread (4331): Worker-1;new?line?tab (/app/pkg/lib.py);"
		"na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0\xf0\x9f\x90\x8d (/app/pkg/lib.py) 2\n");
	free(got);
	free(r.out);
}

static void test_collapsed_empty(void)
{
	struct pyspy_output_config cfg = { .rate = 100 };
	struct pyspy_sample smp = { .size = sizeof(smp), .nstacks = 1, .stack_size = SS, .stacks = &st_none };
	struct run r;

	run_module("collapsed", &cfg, &smp, 1, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_EQUAL(r.len, 0);
	free(r.out);
	run_module("collapsed", &cfg, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_EQUAL(r.len, 0);
	free(r.out);
}

/* A recursive stack 5000 frames deep: one line of 5000 labels. */
static void test_collapsed_deep(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	struct pyspy_frame *fr = calloc(5000, sizeof(*fr));
	struct pyspy_stack stk = { .pid = 1, .thread_id = 1, .nframes = 5000, .frame_size = FS, .frames = fr };
	struct pyspy_sample smp[2] = {
		{ .size = sizeof(smp[0]), .nstacks = 1, .stack_size = SS, .stacks = &stk },
		{ .size = sizeof(smp[0]), .nstacks = 1, .stack_size = SS, .stacks = &stk },
	};
	struct run r;
	size_t i;

	for (i = 0; i < 5000; i++)
		fr[i] = (struct pyspy_frame){ s_foo, s_lib, s_lib_short, 5, 0, 0, 0, NULL, 0, 0 };
	run_module("collapsed", &cfg, smp, 2, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_EQUAL(count_of(r.out, "foo (pkg/lib.py:5)"), 5000);
	CU_ASSERT_EQUAL(count_of(r.out, ";"), 4999);
	CU_ASSERT(r.len > 3 && strcmp(r.out + r.len - 3, " 2\n") == 0);
	free(r.out);
	free(fr);
}

/* Stacks that share their root side with the thread's last one (shorter,
 * longer, changed in the middle), from more threads than the outputs keep
 * a last stack for: each still counts under its own path. */
static void test_collapsed_shared_prefixes(void)
{
	static const char *names[] = { "f0", "f1", "f2", "f3", "f4", "f5" };
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	struct pyspy_frame L[5], P[3], M[5];
	struct pyspy_sample smp[5];
	struct pyspy_frame *plan[5] = { L, P, L, M, L };
	uint32_t sizes[5] = { 5, 3, 5, 5, 5 };
	struct run r;
	char *got;
	int i, t;

	for (i = 0; i < 5; i++)
		L[i] = (struct pyspy_frame){ names[4 - i], s_lib, s_lib_short, 14 - i, 0, 0, 0, NULL, 0, 0 };
	for (i = 0; i < 3; i++)
		P[i] = L[i + 2];
	memcpy(M, L, sizeof(M));
	M[2] = (struct pyspy_frame){ names[5], s_lib, s_lib_short, 15, 0, 0, 0, NULL, 0, 0 };
	/* sample i: 12 threads, thread t shows plan[(i + t) % 5] */
	for (i = 0; i < 5; i++) {
		struct pyspy_stack *st = calloc(12, sizeof(*st));

		for (t = 0; t < 12; t++) {
			st[t] = (struct pyspy_stack){ .pid = 1, .thread_id = (uint64_t)t + 1, .active = 1,
						      .nframes = sizes[(i + t) % 5], .frame_size = FS, .frames = plan[(i + t) % 5] };
		}
		smp[i] = (struct pyspy_sample){ .size = sizeof(smp[i]), .nstacks = 12, .stack_size = SS, .stacks = st };
	}
	run_module("collapsed", &cfg, smp, 5, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	got = sorted_lines(r.out);
	CU_ASSERT_STRING_EQUAL(got,
		"f0 (pkg/lib.py:10);f1 (pkg/lib.py:11);f2 (pkg/lib.py:12) 12\n"
		"f0 (pkg/lib.py:10);f1 (pkg/lib.py:11);f2 (pkg/lib.py:12);f3 (pkg/lib.py:13);f4 (pkg/lib.py:14) 36\n"
		"f0 (pkg/lib.py:10);f1 (pkg/lib.py:11);f5 (pkg/lib.py:15);f3 (pkg/lib.py:13);f4 (pkg/lib.py:14) 12\n");
	free(got);
	free(r.out);
	for (i = 0; i < 5; i++)
		free((void *)smp[i].stacks);
}

/* Deeper than the 65536 frames kept: the outermost frames are the ones kept. */
static void test_collapsed_too_deep(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	const uint32_t n = 70000;
	struct pyspy_frame *fr = calloc(n, sizeof(*fr));
	struct pyspy_stack stk = { .pid = 1, .thread_id = 1, .nframes = n, .frame_size = FS, .frames = fr };
	struct pyspy_sample smp = { .size = sizeof(smp), .nstacks = 1, .stack_size = SS, .stacks = &stk };
	struct run r;
	uint32_t i;

	for (i = 0; i < n; i++)
		fr[i] = (struct pyspy_frame){ s_foo, s_lib, s_lib_short, 5, 0, 0, 0, NULL, 0, 0 };
	fr[n - 1] = (struct pyspy_frame){ s_module, s_main, s_main_short, 9, 0, 0, 0, NULL, 0, 0 };
	fr[0] = (struct pyspy_frame){ s_odd, s_lib, s_lib_short, 7, 0, 0, 0, NULL, 0, 0 };
	run_module("collapsed", &cfg, &smp, 1, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT(strncmp(r.out, "<module> (main.py:9);foo", 24) == 0);
	CU_ASSERT_EQUAL(count_of(r.out, ";"), 65535);
	CU_ASSERT_PTR_NULL(strstr(r.out, "a:b"));   /* the innermost frame was cut */
	free(r.out);
	free(fr);
}

/* Writing to a pipe nobody reads: -EPIPE and a short message. */
static void test_collapsed_epipe(void)
{
	const struct pyspy_output_ops *ops = ops_of("collapsed");
	struct pyspy_output_config cfg = { .size = sizeof(cfg), .command = PYSPY_CMD_RECORD,
					   .show_lines = 1, .rate = 100, .input_fd = -1 };
	struct pyspy_run_summary sum = { .size = sizeof(sum) };
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	char err[256] = "";
	void *state = NULL;
	int fds[2], rc, i;
	FILE *f;

	CU_ASSERT_FATAL(pipe(fds) == 0);
	close(fds[0]);
	f = fdopen(fds[1], "w");
	CU_ASSERT_FATAL(f != NULL);
	build_samples();
	CU_ASSERT_EQUAL_FATAL(ops->open(unit_host(), &cfg, f, &state, err, sizeof(err)), 0);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(ops->sample(state, &samples[i], err, sizeof(err)), 0);
	rc = ops->finish(state, &sum, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -EPIPE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "pipe"));
	ops->close(state);
	fclose(f);
	signal(SIGPIPE, old);
}

/* close without finish frees everything (checked by the ASan build). */
static void test_close_without_finish(void)
{
	struct pyspy_output_config cfg = { .size = sizeof(cfg), .command = PYSPY_CMD_RECORD,
					   .show_lines = 1, .rate = 100, .input_fd = -1 };
	char err[256] = "";
	size_t m;
	int i;

	build_samples();
	for (m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
		void *state = NULL;
		FILE *f = tmpfile();

		CU_ASSERT_FATAL(f != NULL);
		CU_ASSERT_EQUAL(mods[m].ops->open(unit_host(), &cfg, f, &state, err, sizeof(err)), 0);
		for (i = 0; i < 5; i++)
			CU_ASSERT_EQUAL(mods[m].ops->sample(state, &samples[i], err, sizeof(err)), 0);
		mods[m].ops->close(state);
		CU_ASSERT_EQUAL(ftell(f), 0); /* nothing written before finish */
		fclose(f);
	}
}

/* --- speedscope ----------------------------------------------------------- */

static void test_speedscope_exact(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	struct run r;

	build_samples();
	run_module("speedscope", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, 0);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_STRING_EQUAL(r.out,
		"{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
		"\"shared\":{\"frames\":["
		"{\"name\":\"<module>\",\"file\":\"/app/main.py\",\"line\":9},"
		"{\"name\":\"foo\",\"file\":\"/app/pkg/lib.py\",\"line\":5},"
		"{\"name\":\"thread (4331): Worker-1\"},"
		"{\"name\":\"new\\nline\\ttab\",\"file\":\"/app/pkg/lib.py\",\"line\":13},"
		"{\"name\":\"na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0\xf0\x9f\x90\x8d\",\"file\":\"/app/pkg/lib.py\",\"line\":12},"
		"{\"name\":\"bad\xef\xbf\xbd\xef\xbf\xbd(x\",\"file\":\"/app/main.py\",\"line\":20},"
		"{\"name\":\"a;b <&\\\"'> c\\\\d\",\"file\":\"/app/pkg/lib.py\",\"line\":7},"
		"{\"name\":\"foo\",\"file\":\"/app/pkg/lib.py\",\"line\":6}]},"
		"\"profiles\":["
		"{\"type\":\"sampled\",\"name\":\"Thread 300\",\"unit\":\"seconds\",\"startValue\":0,"
		"\"endValue\":0.01,\"samples\":[[]],\"weights\":[0.01]},"
		"{\"type\":\"sampled\",\"name\":\"Thread 4321 \\\"MainThread\\\"\",\"unit\":\"seconds\","
		"\"startValue\":0,\"endValue\":0.05,"
		"\"samples\":[[0,1],[0,1],[0,6],[0,7],[0,1]],\"weights\":[0.01,0.01,0.01,0.01,0.01]},"
		"{\"type\":\"sampled\",\"name\":\"Thread 4331 \\\"Worker-1\\\"\",\"unit\":\"seconds\","
		"\"startValue\":0,\"endValue\":0.03,"
		"\"samples\":[[2,3,4],[2,5],[2,3,4]],\"weights\":[0.01,0.01,0.01]}],"
		"\"name\":\"py-spy profile\",\"activeProfileIndex\":null,"
		"\"exporter\":\"py-spy@" PYSPY_VERSION "\"}\n");
	free(r.out);
}

/* No samples at all (a program that ended before the first one): a valid
 * file with no frames and no profiles (and, under UBSan, no qsort(NULL)). */
static void test_speedscope_empty(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	struct run r;

	run_module("speedscope", &cfg, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.open_rc, 0);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"shared\":{\"frames\":[]},\"profiles\":[],"));
	free(r.out);
}

/* No line numbers: one frame per function; another rate; two processes. */
static void test_speedscope_rate_processes(void)
{
	struct pyspy_output_config cfg = { .show_lines = 0, .rate = 250 };
	struct pyspy_stack other = st_e;
	struct pyspy_sample smp[2];
	struct run r;

	other.pid = 78;
	build_samples();
	smp[0] = samples[0];                   /* A, C of pid 77 */
	smp[1] = (struct pyspy_sample){ .size = sizeof(smp[1]), .nstacks = 1, .stack_size = SS, .stacks = &other };
	run_module("speedscope", &cfg, smp, 2, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	/* no line numbers: the frame has none */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "{\"name\":\"foo\",\"file\":\"/app/pkg/lib.py\"}"));
	CU_ASSERT_EQUAL(count_of(r.out, "{\"name\":\"foo\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"name\":\"Process 77 Thread 4321 \\\"MainThread\\\"\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "\"name\":\"Process 78 Thread 4321 \\\"MainThread\\\"\""));
	CU_ASSERT_EQUAL(count_of(r.out, "\"type\":\"sampled\""), 3);
	CU_ASSERT_EQUAL(count_of(r.out, "\"weights\":[0.004]"), 3);
	CU_ASSERT_EQUAL(count_of(r.out, "\"endValue\":0.004,"), 3);
	free(r.out);
}

/* --- flamegraph ----------------------------------------------------------- */

/* The fill of the frame whose tooltip starts with title. */
static int fill_of(const char *svg, const char *title, char *fill, size_t n)
{
	const char *p = strstr(svg, title), *q;

	if (!p || !(p = strstr(p, "fill=\"")) || !(q = strchr(p + 6, '"')))
		return -1;
	snprintf(fill, n, "%.*s", (int)(q - p - 6), p + 6);
	return 0;
}

static void test_flamegraph_content(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100,
					   .title = "py-spy record -o x <y&z>" };
	char fill1[32] = "", fill2[32] = "";
	struct run r;

	unit_host_options(NULL);
	build_samples();
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, 0);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT(strncmp(r.out, "<?xml version=\"1.0\" encoding=\"UTF-8\"", 36) == 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "width=\"1200\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, ">py-spy record -o x &lt;y&amp;z&gt;</text>"));
	/* 8 stacks with frames (the empty one is not drawn); 8 frames + "all" */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "<g><title>all (8 samples, 100.00%)</title>"));
	CU_ASSERT_EQUAL(count_of(r.out, "<g><title>"), 9);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out,
		"<title>&lt;module&gt; (main.py:9) (5 samples, 62.50%)</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out,
		"<title>foo (pkg/lib.py:5) (3 samples, 37.50%)</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out,
		"<title>a;b &lt;&amp;&quot;&#39;&gt; c\\d (pkg/lib.py:7) (1 samples, 12.50%)</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out,
		"<title>thread (4331): Worker-1 (3 samples, 37.50%)</title>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "<title>new?line?tab (pkg/lib.py:13) (2 samples"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out,
		"<title>na\xc3\xafve_\xe5\x87\xbd\xe6\x95\xb0\xf0\x9f\x90\x8d (pkg/lib.py:12) (2 samples"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "<title>bad\xef\xbf\xbd\xef\xbf\xbd(x (main.py:20)"));
	/* nothing unescaped, no raw invalid byte or control character */
	CU_ASSERT_PTR_NULL(strstr(r.out, "<&"));
	CU_ASSERT_PTR_NULL(strstr(r.out, "\"'>"));
	CU_ASSERT_PTR_NULL(strchr(r.out, '\xff'));
	CU_ASSERT_PTR_NULL(strstr(r.out, "new\nline"));
	CU_ASSERT_PTR_NULL(strstr(r.out, "line\ttab"));
	/* the viewer */
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "<script type=\"text/ecmascript\"><![CDATA["));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "Matched: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, ">Reset Zoom</text>"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, ">Search</text>"));
	CU_ASSERT_EQUAL(count_of(r.out, "]]>"), 2); /* the style and the script */
	CU_ASSERT(r.len > 7 && strcmp(r.out + r.len - 7, "</svg>\n") == 0);
	/* colours follow the function name: foo:5 and foo:6 match */
	CU_ASSERT_EQUAL(fill_of(r.out, "<title>foo (pkg/lib.py:5)", fill1, sizeof(fill1)), 0);
	CU_ASSERT_EQUAL(fill_of(r.out, "<title>foo (pkg/lib.py:6)", fill2, sizeof(fill2)), 0);
	CU_ASSERT_STRING_EQUAL(fill1, fill2);
	CU_ASSERT(strncmp(fill1, "rgb(2", 5) == 0); /* hot: red 205..255 */
	free(r.out);
}

static void test_flamegraph_options(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100, .title = "cmd" };
	char fill[32] = "";
	struct run r;

	build_samples();
	/* min_width 20%: 116 px of 580, frames of 2 samples (145 px) and more */
	unit_host_options((const char *const[]){ "width", "600", "min_width", "20%",
						 "colors", "mem", "title", "my <profile>", NULL });
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, 0);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "width=\"600\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, ">my &lt;profile&gt;</text>"));
	CU_ASSERT_PTR_NULL(strstr(r.out, ">cmd</text>"));
	/* all, <module>, foo:5, thread, new?line?tab, naive */
	CU_ASSERT_EQUAL(count_of(r.out, "<g><title>"), 6);
	CU_ASSERT_PTR_NULL(strstr(r.out, "<title>bad"));
	CU_ASSERT_EQUAL(fill_of(r.out, "<title>foo (pkg/lib.py:5)", fill, sizeof(fill)), 0);
	CU_ASSERT(strncmp(fill, "rgb(0,", 6) == 0); /* mem: no red */
	free(r.out);

	/* pixels: only frames of 3 samples and more (442 px) */
	unit_host_options((const char *const[]){ "min_width", "300", NULL });
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_EQUAL(count_of(r.out, "<g><title>"), 4); /* all, <module>, foo:5, thread */
	free(r.out);

	unit_host_options((const char *const[]){ "width", "12x", NULL });
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "width"));
	free(r.out);
	unit_host_options((const char *const[]){ "min_width", "-1", NULL });
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "min_width"));
	free(r.out);
	unit_host_options((const char *const[]){ "colors", "plaid", NULL });
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL(r.open_rc, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "plaid"));
	free(r.out);
	unit_host_options(NULL);
}

static void test_flamegraph_empty(void)
{
	struct pyspy_output_config cfg = { .rate = 100 };
	struct run r;

	unit_host_options(NULL);
	run_module("flamegraph", &cfg, NULL, 0, &r);
	CU_ASSERT_EQUAL(r.finish_rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "No samples were recorded"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.out, ">py-spy</text>"));
	CU_ASSERT_EQUAL(count_of(r.out, "<g><title>"), 0);
	CU_ASSERT(r.len > 7 && strcmp(r.out + r.len - 7, "</svg>\n") == 0);
	free(r.out);
}

/* Siblings are laid out by label and nested inside their parent. */
static void test_flamegraph_layout(void)
{
	struct pyspy_output_config cfg = { .show_lines = 1, .rate = 100 };
	const char *p;
	double x_mod, w_mod, x_foo, w_foo, x_odd, w_odd;
	struct run r;

	unit_host_options(NULL);
	build_samples();
	run_module("flamegraph", &cfg, samples, 5, &r);
	CU_ASSERT_EQUAL_FATAL(r.finish_rc, 0);
	p = strstr(r.out, "<title>&lt;module&gt;");
	CU_ASSERT_FATAL(p && sscanf(strstr(p, "<rect x="), "<rect x=\"%lf\" y=\"%*d\" width=\"%lf\"",
				     &x_mod, &w_mod) == 2);
	p = strstr(r.out, "<title>foo (pkg/lib.py:5)");
	CU_ASSERT_FATAL(p && sscanf(strstr(p, "<rect x="), "<rect x=\"%lf\" y=\"%*d\" width=\"%lf\"",
				     &x_foo, &w_foo) == 2);
	p = strstr(r.out, "<title>a;b");
	CU_ASSERT_FATAL(p && sscanf(strstr(p, "<rect x="), "<rect x=\"%lf\" y=\"%*d\" width=\"%lf\"",
				     &x_odd, &w_odd) == 2);
	/* <module> is the first root child: at the left margin, 5/8 of 1180 */
	CU_ASSERT_DOUBLE_EQUAL(x_mod, 10.0, 0.001);
	CU_ASSERT_DOUBLE_EQUAL(w_mod, 737.5, 0.01);
	/* "a;b" sorts before "foo" */
	CU_ASSERT_DOUBLE_EQUAL(x_odd, 10.0, 0.001);
	CU_ASSERT_DOUBLE_EQUAL(w_odd, 147.5, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(x_foo, 157.5, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(w_foo, 442.5, 0.01);
	free(r.out);
}

/* --- running out of memory ---------------------------------------------- */

static long alloc_budget;  /* allocations left before they fail; < 0: no limit */

static void *t_alloc_limited(size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return calloc(1, n);
}

static void *t_realloc_limited(void *p, size_t n)
{
	if (alloc_budget == 0)
		return NULL;
	if (alloc_budget > 0)
		alloc_budget--;
	return realloc(p, n);
}

/* Every allocation of open, sample and finish fails in turn: each op
 * returns 0 or -ENOMEM with a message, and close frees what was taken
 * (the ASan build checks for leaks). */
static void test_out_of_memory(void)
{
	struct pyspy_host host = *unit_host();
	struct pyspy_output_config cfg = { .size = sizeof(cfg), .command = PYSPY_CMD_RECORD,
					   .show_lines = 1, .rate = 100, .input_fd = -1,
					   .title = "t" };
	struct pyspy_run_summary sum = { .size = sizeof(sum) };
	size_t m;
	long budget;
	int i, rc, failures;

	host.alloc = t_alloc_limited;
	host.realloc = t_realloc_limited;
	unit_host_options(NULL);
	build_samples();
	for (m = 0; m < sizeof(mods) / sizeof(mods[0]); m++) {
		failures = 0;
		for (budget = 0; budget < 200; budget++) {
			char err[256] = "";
			void *state = NULL;
			char *buf = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&buf, &len);

			alloc_budget = budget;
			rc = mods[m].ops->open(&host, &cfg, f, &state, err, sizeof(err));
			for (i = 0; i < 5 && rc == 0; i++)
				rc = mods[m].ops->sample(state, &samples[i], err, sizeof(err));
			if (state) {
				if (rc == 0)
					rc = mods[m].ops->finish(state, &sum, err, sizeof(err));
				mods[m].ops->close(state);
			}
			CU_ASSERT(rc == 0 || rc == -ENOMEM);
			if (rc) {
				failures++;
				CU_ASSERT_PTR_NOT_NULL(strstr(err, "out of memory"));
			}
			fclose(f);
			free(buf);
		}
		/* the small budgets failed, the large ones did not */
		CU_ASSERT(failures > 0 && failures < 200);
	}
	alloc_budget = -1;
}

UNIT_SUITE(outputs_record_suite)
{
	CU_pSuite s = CU_add_suite("outputs_record", rec_suite_init, rec_suite_clean);

	CU_add_test(s, "descriptors", test_descriptors);
	CU_add_test(s, "collapsed lines", test_collapsed_lines);
	CU_add_test(s, "collapsed without lines, full names", test_collapsed_no_lines_full_names);
	CU_add_test(s, "collapsed empty", test_collapsed_empty);
	CU_add_test(s, "collapsed deep stack", test_collapsed_deep);
	CU_add_test(s, "collapsed stacks sharing their root side", test_collapsed_shared_prefixes);
	CU_add_test(s, "collapsed too deep", test_collapsed_too_deep);
	CU_add_test(s, "collapsed EPIPE", test_collapsed_epipe);
	CU_add_test(s, "close without finish", test_close_without_finish);
	CU_add_test(s, "speedscope exact", test_speedscope_exact);
	CU_add_test(s, "speedscope rate, processes", test_speedscope_rate_processes);
	CU_add_test(s, "speedscope with no samples", test_speedscope_empty);
	CU_add_test(s, "flamegraph content", test_flamegraph_content);
	CU_add_test(s, "flamegraph options", test_flamegraph_options);
	CU_add_test(s, "flamegraph empty", test_flamegraph_empty);
	CU_add_test(s, "flamegraph layout", test_flamegraph_layout);
	CU_add_test(s, "out of memory", test_out_of_memory);
}
