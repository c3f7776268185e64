/*
 * The dump output module (build/modules/outputs/dump.so), loaded as the
 * core loads it, fed stacks and compared byte for byte with py-spy's text
 * and JSON shapes: escapes, invalid UTF-8, non-ASCII names, line 0.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pyspy/module.h>
#include <pyspy/output.h>

#include "unit.h"

static void *dump_handle;
static const struct pyspy_output_ops *dump_ops;

static int dump_suite_init(void)
{
	const struct pyspy_module *mod;

	mod = unit_load_module("modules/outputs/dump.so", PYSPY_KIND_OUTPUT, &dump_handle);
	if (!mod)
		return -1;
	dump_ops = mod->ops;
	return 0;
}

static int dump_suite_clean(void)
{
	if (dump_handle)
		dlclose(dump_handle);
	return 0;
}

/* The stacks every test prints. */
static const struct pyspy_frame main_frames[] = {
	{ "longsleep", "/srv/app/longsleep.py", "longsleep.py", 5, 0, 0, 0, NULL, 0, 0 },
	{ "<module>", "/srv/app/longsleep.py", "longsleep.py", 9, 0, 0, 0, NULL, 0, 0 },
};

static const struct pyspy_frame worker_frames[] = {
	{ "функция", "/tmp/файл.py", "файл.py", 12, 0, 0, 0, NULL, 0, 0 },
	{ "函数", "/tmp/文件.py", "文件.py", 0, 0, 0, 0, NULL, 0, 0 },
	{ "f\xf0\x9f\x90\x8d", "/tmp/\xf0\x9f\x90\x8d.py", "\xf0\x9f\x90\x8d.py", 3, 0, 0, 0, NULL, 0, 0 },
	{ "worker", "/srv/app/pkg/mod.py", "pkg/mod.py", 40, 0, 0, 0, NULL, 0, 0 },
	{ "Thread-7", "", "", 0, PYSPY_FRAME_THREAD, 0, 0, NULL, 0, 0 },
};

static const struct pyspy_frame odd_frames[] = {
	{ "esc\x1b[31mred", "/tmp/a\tb.py", "a\tb.py", 1, 0, 0, 0, NULL, 0, 0 },
	{ "bad\xff\xfe!", "/tmp/x\xe2\x82.py", "x\xe2\x82.py", 2, 0, 0, 0, NULL, 0, 0 },
	{ "q\"uote\\back\x7f", "/tmp/c1\xc2\x9b.py", "c1\xc2\x9b.py", 3, 0, 0, 0, NULL, 0, 0 },
	{ "sur\xed\xa0\x80x", "<made-up-file>.py", "<made-up-file>.py", 4, 0, 0, 0, NULL, 0, 0 },
};

static const struct pyspy_stack stacks[] = {
	{ .pid = 4321, .thread_id = 0x7f0011223344ull, .os_thread_id = 4321,
	  .thread_name = "MainThread", .active = 0, .owns_gil = 0,
	  .nframes = 2, .frame_size = sizeof(struct pyspy_frame), .frames = main_frames },
	{ .pid = 4321, .thread_id = 0x7f00aabbccddull, .os_thread_id = 4330,
	  .thread_name = "рабочий-工作-\xf0\x9f\x94\xa5", .active = 1, .owns_gil = 1,
	  .nframes = 5, .frame_size = sizeof(struct pyspy_frame), .frames = worker_frames },
	{ .pid = 4321, .thread_id = 0x7f00deadbeefull, .os_thread_id = 0,
	  .thread_name = NULL, .active = 1, .owns_gil = 0,
	  .nframes = 4, .frame_size = sizeof(struct pyspy_frame), .frames = odd_frames },
	{ .pid = 4321, .thread_id = 0x7f0000000001ull, .os_thread_id = 4399,
	  .thread_name = "bell\x07", .active = 0, .owns_gil = 0,
	  .nframes = 0, .frame_size = sizeof(struct pyspy_frame), .frames = NULL },
};

static const struct pyspy_process_info proc = {
	.size = sizeof(struct pyspy_process_info),
	.pid = 4321,
	.cmdline = "python longsleep.py --\x1b",
	.python_version = "3.11.2",
	.python_path = "/usr/bin/python3.11",
};

/* Run open, snapshot, finish, close; returns the text written (malloc'd). */
static char *run_dump_sample(int json, int full, const struct pyspy_sample *smp, int *rc)
{
	struct pyspy_output_config cfg = {
		.size = sizeof(cfg),
		.command = PYSPY_CMD_DUMP,
		.process = &proc,
		.full_filenames = full,
		.json = json,
		.input_fd = -1,
	};
	struct pyspy_run_summary sum = { .size = sizeof(sum) };
	char err[256] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	void *state = NULL;

	CU_ASSERT_FATAL(f != NULL);
	*rc = dump_ops->open(unit_host(), &cfg, f, &state, err, sizeof(err));
	CU_ASSERT_EQUAL(*rc, 0);
	if (*rc == 0) {
		*rc = dump_ops->snapshot(state, smp, err, sizeof(err));
		if (*rc == 0)
			*rc = dump_ops->finish(state, &sum, err, sizeof(err));
		dump_ops->close(state);
	}
	fclose(f);
	return buf;
}

static char *run_dump(int json, int full, const struct pyspy_stack *st, size_t n, int *rc)
{
	struct pyspy_sample smp = {
		.size = sizeof(smp), .stacks = st, .nstacks = (uint32_t)n, .stack_size = sizeof(*st),
	};

	return run_dump_sample(json, full, &smp, rc);
}

static void check_output(const char *got, const char *want)
{
	CU_ASSERT_STRING_EQUAL(got, want);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n--- got:\n%s\n--- want:\n%s\n", got, want);
}

static const char text_short[] =
	"Process 4321: python longsleep.py --\\x1b\n"
	"Python v3.11.2 (/usr/bin/python3.11)\n"
	"\n"
	"Thread 4321 (idle): \"MainThread\"\n"
	"    longsleep (longsleep.py:5)\n"
	"    <module> (longsleep.py:9)\n"
	"\n"
	"Thread 4330 (active+gil): \"рабочий-工作-\xf0\x9f\x94\xa5\"\n"
	"    функция (файл.py:12)\n"
	"    函数 (文件.py)\n"
	"    f\xf0\x9f\x90\x8d (\xf0\x9f\x90\x8d.py:3)\n"
	"    worker (pkg/mod.py:40)\n"
	"    Thread-7\n"
	"\n"
	"Thread 0x7F00DEADBEEF (active)\n"
	"    esc\\x1b[31mred (a\\x09b.py:1)\n"
	"    bad\xef\xbf\xbd\xef\xbf\xbd! (x\xef\xbf\xbd.py:2)\n"
	"    q\"uote\\back\\x7f (c1\\u009b.py:3)\n"
	"    sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx (<made-up-file>.py:4)\n"
	"\n"
	"Thread 4399 (idle): \"bell\\x07\"\n";

static void test_text_short(void)
{
	int rc;
	char *out = run_dump(0, 0, stacks, 4, &rc);

	CU_ASSERT_EQUAL(rc, 0);
	check_output(out, text_short);
	free(out);
}

static void test_text_full_filenames(void)
{
	int rc;
	char *out = run_dump(0, 1, stacks, 2, &rc);
	static const char want[] =
		"Process 4321: python longsleep.py --\\x1b\n"
		"Python v3.11.2 (/usr/bin/python3.11)\n"
		"\n"
		"Thread 4321 (idle): \"MainThread\"\n"
		"    longsleep (/srv/app/longsleep.py:5)\n"
		"    <module> (/srv/app/longsleep.py:9)\n"
		"\n"
		"Thread 4330 (active+gil): \"рабочий-工作-\xf0\x9f\x94\xa5\"\n"
		"    функция (/tmp/файл.py:12)\n"
		"    函数 (/tmp/文件.py)\n"
		"    f\xf0\x9f\x90\x8d (/tmp/\xf0\x9f\x90\x8d.py:3)\n"
		"    worker (/srv/app/pkg/mod.py:40)\n"
		"    Thread-7\n";

	CU_ASSERT_EQUAL(rc, 0);
	check_output(out, want);
	free(out);
}

static const char json_all[] =
	"[\n"
	"  {\n"
	"    \"pid\": 4321,\n"
	"    \"thread_id\": 139638264181572,\n"
	"    \"thread_name\": \"MainThread\",\n"
	"    \"os_thread_id\": 4321,\n"
	"    \"active\": false,\n"
	"    \"owns_gil\": false,\n"
	"    \"frames\": [\n"
	"      {\n"
	"        \"name\": \"longsleep\",\n"
	"        \"filename\": \"/srv/app/longsleep.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"longsleep.py\",\n"
	"        \"line\": 5,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      },\n"
	"      {\n"
	"        \"name\": \"<module>\",\n"
	"        \"filename\": \"/srv/app/longsleep.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"longsleep.py\",\n"
	"        \"line\": 9,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      }\n"
	"    ],\n"
	"    \"process_info\": null\n"
	"  },\n"
	"  {\n"
	"    \"pid\": 4321,\n"
	"    \"thread_id\": 139641712656111,\n"
	"    \"thread_name\": null,\n"
	"    \"os_thread_id\": null,\n"
	"    \"active\": true,\n"
	"    \"owns_gil\": false,\n"
	"    \"frames\": [\n"
	"      {\n"
	"        \"name\": \"esc\\u001b[31mred\",\n"
	"        \"filename\": \"/tmp/a\\tb.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"a\\tb.py\",\n"
	"        \"line\": 1,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      },\n"
	"      {\n"
	"        \"name\": \"bad\xef\xbf\xbd\xef\xbf\xbd!\",\n"
	"        \"filename\": \"/tmp/x\xef\xbf\xbd.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"x\xef\xbf\xbd.py\",\n"
	"        \"line\": 2,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      },\n"
	"      {\n"
	"        \"name\": \"q\\\"uote\\\\back\\u007f\",\n"
	"        \"filename\": \"/tmp/c1\\u009b.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"c1\\u009b.py\",\n"
	"        \"line\": 3,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      },\n"
	"      {\n"
	"        \"name\": \"sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx\",\n"
	"        \"filename\": \"<made-up-file>.py\",\n"
	"        \"module\": null,\n"
	"        \"short_filename\": \"<made-up-file>.py\",\n"
	"        \"line\": 4,\n"
	"        \"locals\": null,\n"
	"        \"is_entry\": false,\n"
	"        \"is_shim_entry\": false\n"
	"      }\n"
	"    ],\n"
	"    \"process_info\": null\n"
	"  },\n"
	"  {\n"
	"    \"pid\": 4321,\n"
	"    \"thread_id\": 139637976727553,\n"
	"    \"thread_name\": \"bell\\u0007\",\n"
	"    \"os_thread_id\": 4399,\n"
	"    \"active\": false,\n"
	"    \"owns_gil\": false,\n"
	"    \"frames\": [],\n"
	"    \"process_info\": null\n"
	"  }\n"
	"]\n";

static void test_json(void)
{
	const struct pyspy_stack some[] = { stacks[0], stacks[2], stacks[3] };
	int rc;
	char *out = run_dump(1, 0, some, 3, &rc);

	CU_ASSERT_EQUAL(rc, 0);
	check_output(out, json_all);
	free(out);
}

/* Non-ASCII passes unchanged into JSON too; pseudo frames are left out. */
static void test_json_unicode(void)
{
	int rc;
	char *out = run_dump(1, 1, &stacks[1], 1, &rc);

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"thread_name\": \"рабочий-工作-\xf0\x9f\x94\xa5\",\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"name\": \"функция\",\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"short_filename\": \"文件.py\",\n"
				      "        \"line\": 0,\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"filename\": \"/tmp/\xf0\x9f\x90\x8d.py\",\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "Thread-7"));
	free(out);
}

static void test_json_empty(void)
{
	int rc;
	char *out = run_dump(1, 0, NULL, 0, &rc);

	CU_ASSERT_EQUAL(rc, 0);
	check_output(out, "[]\n");
	free(out);
}

/* A full disk is an error (-EIO with a text), not a silent success. */
static void test_write_error(void)
{
	struct pyspy_output_config cfg = {
		.size = sizeof(cfg), .command = PYSPY_CMD_DUMP, .process = &proc, .input_fd = -1,
	};
	struct pyspy_run_summary sum = { .size = sizeof(sum) };
	char err[256] = "";
	void *state = NULL;
	FILE *f = fopen("/dev/full", "w");
	int rc;

	if (!f) {
		CU_FAIL("cannot open /dev/full");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(dump_ops->open(unit_host(), &cfg, f, &state, err, sizeof(err)), 0);
	rc = dump_ops->snapshot(state, &(struct pyspy_sample){ .size = sizeof(struct pyspy_sample),
		.stacks = stacks, .nstacks = 4, .stack_size = sizeof(stacks[0]) }, err, sizeof(err));
	if (rc == 0)
		rc = dump_ops->finish(state, &sum, err, sizeof(err));
	CU_ASSERT_EQUAL(rc, -EIO);
	CU_ASSERT(err[0] != '\0');
	dump_ops->close(state);
	fclose(f);
}

/* Truncated, overlong and out-of-range sequences: one U+FFFD per maximal
 * invalid prefix, nothing read past the end of the string. */
static void test_text_invalid_utf8(void)
{
	static const struct pyspy_frame fr[] = {
		{ "end\xf0\x9f", "a\xc0\xaf" "b", "a\xc0\xaf" "b", 7, 0, 0, 0, NULL, 0, 0 },
		{ "big\xf4\x90\x80\x80", "\xe6\x96\x87", "\xe6\x96\x87", 0, 0, 0, 0, NULL, 0, 0 },
	};
	const struct pyspy_stack st = {
		.pid = 1, .thread_id = 0xabcull, .os_thread_id = 0, .thread_name = "\xff",
		.nframes = 2, .frame_size = sizeof(struct pyspy_frame), .frames = fr,
	};
	int rc;
	char *out = run_dump(0, 0, &st, 1, &rc);
	const char *body = strstr(out, "\n\nThread");

	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	check_output(body,
		     "\n\nThread 0xABC (idle): \"\xef\xbf\xbd\"\n"
		     "    end\xef\xbf\xbd (a\xef\xbf\xbd\xef\xbf\xbd" "b:7)\n"
		     "    big\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd (\xe6\x96\x87)\n");
	free(out);
}

/* Stacks and frames of a newer core (larger elements, garbage in the members
 * dump does not know) print as ours do; those of an older core (smaller
 * elements, allocated to their exact size) are read without going past
 * them, a missing member reading as absent. */
struct newer_frame {
	struct pyspy_frame f;
	uint64_t added[3];
};

struct newer_stack {
	struct pyspy_stack s;
	uint64_t added[2];
};

static void test_element_sizes(void)
{
	const size_t nst = sizeof(stacks) / sizeof(stacks[0]);
	struct newer_frame nf[4][8];
	struct newer_stack ns[4];
	struct pyspy_sample smp = { .size = sizeof(smp) };
	size_t i, k, fsize = offsetof(struct pyspy_frame, flags), ssize;
	unsigned char *of, *os;
	char *want, *got;
	int rc;

	/* Larger. */
	memset(nf, 0xA5, sizeof(nf));
	memset(ns, 0xA5, sizeof(ns));
	for (i = 0; i < nst; i++) {
		for (k = 0; k < stacks[i].nframes; k++)
			nf[i][k].f = stacks[i].frames[k];
		ns[i].s = stacks[i];
		ns[i].s.frames = stacks[i].frames ? &nf[i][0].f : NULL;
		ns[i].s.frame_size = sizeof(nf[0][0]);
	}
	smp.stacks = &ns[0].s;
	smp.nstacks = (uint32_t)nst;
	smp.stack_size = sizeof(ns[0]);
	want = run_dump(0, 0, stacks, nst, &rc);
	got = run_dump_sample(0, 0, &smp, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	check_output(got, want);
	free(got);
	free(want);
	want = run_dump(1, 1, stacks, nst, &rc);
	got = run_dump_sample(1, 1, &smp, &rc);
	check_output(got, want);
	free(got);
	free(want);

	/* Smaller: the main thread's frames without flags (all 0 there), its
	 * stack without active, owns_gil and truncated (all 0 there). */
	ssize = offsetof(struct pyspy_stack, active);
	of = malloc(stacks[0].nframes * fsize);
	os = malloc(ssize);
	CU_ASSERT_FATAL(of && os);
	for (k = 0; k < stacks[0].nframes; k++)
		memcpy(of + k * fsize, &stacks[0].frames[k], fsize);
	{
		struct pyspy_stack st = stacks[0];

		st.frames = (const struct pyspy_frame *)(void *)of;
		st.frame_size = (uint32_t)fsize;
		memcpy(os, &st, ssize);
	}
	smp.stacks = (const struct pyspy_stack *)(void *)os;
	smp.nstacks = 1;
	smp.stack_size = (uint32_t)ssize;
	want = run_dump(0, 0, stacks, 1, &rc);
	got = run_dump_sample(0, 0, &smp, &rc);
	CU_ASSERT_EQUAL(rc, 0);
	check_output(got, want);
	free(got);
	free(want);
	free(os);
	free(of);
}

static void test_descriptor(void)
{
	CU_ASSERT_EQUAL(dump_ops->commands, PYSPY_CMD_DUMP);
	CU_ASSERT_STRING_EQUAL(dump_ops->format, "dump");
	CU_ASSERT_PTR_NOT_NULL(dump_ops->snapshot);
	CU_ASSERT_PTR_NOT_NULL(dump_ops->finish);
	CU_ASSERT_PTR_NOT_NULL(dump_ops->close);
}

UNIT_SUITE(output_dump_suite)
{
	CU_pSuite s = CU_add_suite("output_dump", dump_suite_init, dump_suite_clean);

	CU_add_test(s, "descriptor", test_descriptor);
	CU_add_test(s, "text, short filenames, escapes", test_text_short);
	CU_add_test(s, "text, full filenames, non-ASCII", test_text_full_filenames);
	CU_add_test(s, "text, invalid UTF-8", test_text_invalid_utf8);
	CU_add_test(s, "json, escapes and nulls", test_json);
	CU_add_test(s, "json, non-ASCII unchanged", test_json_unicode);
	CU_add_test(s, "json, no threads", test_json_empty);
	CU_add_test(s, "write error is -EIO", test_write_error);
	CU_add_test(s, "stacks and frames of a larger and a smaller size", test_element_sizes);
}
