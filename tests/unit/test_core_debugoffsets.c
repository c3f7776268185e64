/*
 * core/debugoffsets.c: _Py_DebugOffsets tables built here as the runtime
 * lays them out (cookie, version, free_threaded, then one uint64 per field),
 * read with the field lists of the shipped layout modules.
 *
 * The positions asserted in test_field_lists were read from the real
 * headers (3.13.0 pycore_runtime.h; 3.14 and 3.15 pycore_debug_offsets.h):
 * they check that the generator put each version's list into its module.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/debugoffsets.h"
#include "../../core/layoutcopy.h"
#include "unit.h"

#define HEADER DEBUG_OFFSETS_HEADER

/* A table of `nwords` words (value 1000 + i unless `values` is given),
 * in an exact-size heap buffer (caller frees). */
static unsigned char *make_table(const char *cookie, uint64_t version, uint64_t ft, unsigned nwords,
				 const uint64_t *values, size_t *len)
{
	unsigned char *b;
	unsigned i;

	*len = HEADER + (size_t)nwords * 8;
	b = malloc(*len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, cookie, 8);
	memcpy(b + 8, &version, 8);
	memcpy(b + 16, &ft, 8);
	for (i = 0; i < nwords; i++) {
		uint64_t v = values ? values[i] : 1000 + i;

		memcpy(b + HEADER + (size_t)i * 8, &v, 8);
	}
	return b;
}

/* A shipped layout module (copied by its size), or CU failure. */
static void load_layout(const char *name, struct pyspy_layout *out)
{
	char rel[128];
	const struct pyspy_module *mod;
	void *h;

	snprintf(rel, sizeof(rel), "modules/layouts/%s.so", name);
	mod = unit_load_module(rel, PYSPY_KIND_LAYOUT, &h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mod);
	layout_copy(out, mod->ops);
	/* The list is a string literal in the module: keep the module open. */
}

static unsigned count_fields(const char *fields)
{
	unsigned n = 1;

	for (; *fields; fields++)
		n += *fields == ',';
	return n;
}

static void test_field_lists(void)
{
	static const struct {
		const char *module;
		unsigned n;
		const char *name;
		unsigned index;
	} cases[] = {
		{ "cpython-3.13", 70, "runtime_state.interpreters_head", 2 },
		{ "cpython-3.13", 70, "interpreter_state.threads_head", 6 },
		{ "cpython-3.13", 70, "thread_state.current_frame", 20 },
		{ "cpython-3.13", 70, "interpreter_frame.previous", 26 },
		{ "cpython-3.13", 70, "interpreter_frame.owner", 30 },
		{ "cpython-3.13", 70, "code_object.co_code_adaptive", 40 },
		{ "cpython-3.13", 70, "gc.collecting", 69 },
		{ "cpython-3.13-debug", 70, "thread_state.current_frame", 20 },
		{ "cpython-3.14.5-3.14.255", 92, "interpreter_state.threads_main", 7 },
		{ "cpython-3.14.5-3.14.255", 92, "thread_state.current_frame", 23 },
		{ "cpython-3.14.5-3.14.255", 92, "interpreter_frame.previous", 29 },
		{ "cpython-3.14.5-3.14.255", 92, "code_object.co_tlbc", 46 },
		{ "cpython-3.14.5-3.14.255", 92, "set_object.mask", 62 },
		{ "cpython-3.14.5-3.14.255", 92, "debugger_support.debugger_script_path_size", 91 },
		{ "cpython-3.15", 108, "thread_state.base_frame", 24 },
		{ "cpython-3.15", 108, "thread_state.holds_gil", 31 },
		{ "cpython-3.15", 108, "err_stackitem.exc_value", 35 },
		{ "cpython-3.15", 108, "interpreter_frame.previous", 37 },
		{ "cpython-3.15", 108, "heap_type_object.ht_cached_keys", 64 },
		{ "cpython-3.15", 108, "unicode_object.compactunicodeobject_size", 90 },
		{ "cpython-3.15-ft", 108, "thread_state.holds_gil", 31 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pyspy_layout l;
		struct debug_offsets d;
		unsigned char *b;
		size_t len;
		uint64_t v = 0;

		load_layout(cases[i].module, &l);
		CU_ASSERT_PTR_NOT_NULL_FATAL(l.debug_fields);
		CU_ASSERT_EQUAL(count_fields(l.debug_fields), cases[i].n);
		b = make_table("xdebugpy", 0x030D00F0, 0, cases[i].n, NULL, &len);
		CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
		CU_ASSERT_EQUAL(debug_offsets_get(&d, l.debug_fields, cases[i].name, &v), 0);
		CU_ASSERT_EQUAL(v, 1000 + cases[i].index);
		CU_ASSERT_EQUAL(debug_offsets_get(&d, l.debug_fields, "no.such_field", &v), -ENOENT);
		/* A table shorter than the list lacks its last fields. */
		d.nwords = cases[i].index;
		CU_ASSERT_EQUAL(debug_offsets_get(&d, l.debug_fields, cases[i].name, &v), -ENOENT);
		free(b);
	}
	/* Before 3.13 there is no list. */
	{
		struct pyspy_layout l;

		load_layout("cpython-3.12", &l);
		CU_ASSERT_PTR_NULL(l.debug_fields);
	}
}

static void test_rejects(void)
{
	static const struct { const char *cookie; uint64_t version, ft; size_t len; int rc; } cases[] = {
		{ "xdebugpx", 0x030D00F0, 0, 0, -ENOENT },   /* no cookie: before 3.13 */
		{ "\0\0\0\0\0\0\0", 0x030D00F0, 0, 0, -ENOENT },
		{ "xdebugpy", 0x030D00F0, 0, 23, -ENOENT },  /* shorter than the header */
		{ "xdebugpy", 0x030D00F0, 0, 7, -ENOENT },
		{ "xdebugpy", 0x030C01F0, 0, 0, -EINVAL },   /* versions without a table */
		{ "xdebugpy", 0x020712F0, 0, 0, -EINVAL },
		{ "xdebugpy", 0x040000F0, 0, 0, -EINVAL },
		{ "xdebugpy", 0x1030D00F0ull, 0, 0, -EINVAL },
		{ "xdebugpy", 0x030D00F0, 2, 0, -EINVAL },   /* free_threaded is 0 or 1 */
		{ "xdebugpy", 0x031000A1, 1, 0, 0 },         /* a newer minor: its header reads */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct debug_offsets d;
		size_t len;
		unsigned char *b = make_table(cases[i].cookie, cases[i].version, cases[i].ft, 4, NULL, &len);

		CU_ASSERT_EQUAL(debug_offsets_parse(b, cases[i].len ? cases[i].len : len, &d), cases[i].rc);
		if (cases[i].rc == 0) {
			CU_ASSERT_EQUAL(d.version, cases[i].version);
			CU_ASSERT_EQUAL(d.free_threaded, 1);
			CU_ASSERT_EQUAL(d.nwords, 4);
		} else {
			CU_ASSERT_EQUAL(d.nwords, 0);
		}
		free(b);
	}
}

/* The table a runtime laid out by `fields` would hold, with the values of
 * layout `l` for the members the list names (0 for the other fields). */
static unsigned char *table_of(const struct pyspy_layout *src, const char *fields, uint64_t version,
			       size_t *len)
{
	uint64_t values[DEBUG_OFFSETS_MAX] = { 0 };
	struct pyspy_layout l = *src;
	const char *p = fields;
	unsigned n = 0;

	while (*p && n < DEBUG_OFFSETS_MAX) {
		const char *end = strchr(p, ','), *eq;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			int32_t *m = layout_member(&l, eq + 1, (size_t)(end - eq - 1));

			CU_ASSERT_PTR_NOT_NULL_FATAL(m);
			values[n] = *m == PYSPY_NO_OFFSET ? 0 : (uint64_t)*m;
		}
		n++;
		p = *end ? end + 1 : end;
	}
	return make_table("xdebugpy", version, 0, n, values, len);
}

/* An exact module is cross-checked, never changed. */
static void test_compare(void)
{
	struct pyspy_layout l, copy;
	struct debug_offsets d;
	unsigned char *b;
	char diff[256];
	size_t len;
	uint64_t bad = 77;

	load_layout("cpython-3.15", &l);
	b = table_of(&l, l.debug_fields, 0x030F02F0, &len);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	copy = l;
	CU_ASSERT_EQUAL(debug_offsets_compare(&d, l.debug_fields, &l, diff, sizeof(diff)), 0);
	/* thread_state.current_frame is word 23 of 3.15's list. */
	memcpy(b + HEADER + 23 * 8, &bad, 8);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	CU_ASSERT_EQUAL(debug_offsets_compare(&d, l.debug_fields, &l, diff, sizeof(diff)), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(diff, "tstate.current_frame 77 (table)"));
	CU_ASSERT_EQUAL(memcmp(&l, &copy, sizeof(l)), 0);
	free(b);
}

/* A newer minor without a module: the nearest older list is taken only if
 * the table checks against it. */
static void test_apply_newer_minor(void)
{
	struct pyspy_layout l313, l314, l315, l, before;
	struct debug_offsets d;
	unsigned char *b;
	char why[256];
	size_t len;
	uint64_t huge = 1ull << 40;

	load_layout("cpython-3.13", &l313);
	load_layout("cpython-3.14.5-3.14.255", &l314);
	load_layout("cpython-3.15", &l315);

	/* A "3.16" laid out as 3.15: read with 3.15's list, every member is
	 * 3.15's (the module's values came back through the table). */
	b = table_of(&l315, l315.debug_fields, 0x031000A1, &len);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	l = l315;
	l.tstate.current_frame = 1; /* overwritten from the table */
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l315.debug_fields, &l, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(l.tstate.current_frame, l315.tstate.current_frame);
	CU_ASSERT_EQUAL(l.iframe.previous, l315.iframe.previous);
	CU_ASSERT_EQUAL(l.interp.modules, l315.interp.modules);

	/* The same table read with 3.14's or 3.13's list (3.15 inserted
	 * fields in the middle): refused, the layout untouched. */
	l = l314;
	before = l;
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l314.debug_fields, &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(memcmp(&l, &before, sizeof(l)), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "beyond"));
	l = l313;
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l313.debug_fields, &l, why, sizeof(why)), -EINVAL);
	free(b);

	/* 3.14's real shape read with 3.13's list: refused too. */
	b = table_of(&l314, l314.debug_fields, 0x030E00F0, &len);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	l = l313;
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l313.debug_fields, &l, why, sizeof(why)), -EINVAL);
	free(b);

	/* A table one word shorter than the list. */
	b = table_of(&l315, l315.debug_fields, 0x031000A1, &len);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len - 8, &d), 0);
	l = l315;
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l315.debug_fields, &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "shorter"));
	/* A value no struct has (word 0 is runtime_state.size). */
	memcpy(b + HEADER, &huge, 8);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, l315.debug_fields, &l, why, sizeof(why)), -EINVAL);
	/* Malformed lists, an unknown member, no list. */
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, "a.b=,c.d", &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, "a.b,,c.d", &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, "a.b=tstate.nonesuch", &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, NULL, &l, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(debug_offsets_apply(&d, "", &l, why, sizeof(why)), -EINVAL);
	free(b);
}

/* ---- debug_offsets_read through a fake backend over a local buffer ---- */

#define FAKE_BASE 0x7f0000001000ull

static unsigned char *fake_mem;
static size_t fake_len;

static int fake_read(struct pyspy_proc *proc, const struct pyspy_iov *iovs, size_t n, size_t iov_size)
{
	struct pyspy_iov iov;
	size_t i;

	for (i = 0; i < n; i++) {
		pyspy_copy_elem(&iov, sizeof(iov), iovs, i, iov_size);
		if (iov.remote < FAKE_BASE || iov.len > fake_len ||
		    iov.remote - FAKE_BASE > fake_len - iov.len)
			return (int)i;
		memcpy(iov.local, fake_mem + (iov.remote - FAKE_BASE), iov.len);
	}
	return (int)n;
}

static void fake_memory(unsigned nwords, size_t mem_len)
{
	size_t len;
	unsigned char *t = make_table("xdebugpy", 0x030F00F0, 0, nwords, NULL, &len);

	free(fake_mem);
	fake_mem = calloc(1, mem_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fake_mem);
	memcpy(fake_mem, t, len < mem_len ? len : mem_len);
	fake_len = mem_len;
	free(t);
}

static void test_read(void)
{
	static struct pyspy_backend_ops ops;
	struct remote r;
	struct debug_offsets d;

	memset(&r, 0, sizeof(r));
	ops.size = sizeof(ops);
	ops.read = fake_read;
	r.ops = &ops;

	/* The runtime is much larger than the table (the usual case). */
	fake_memory(108, 65536);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT_EQUAL(d.nwords, DEBUG_OFFSETS_MAX);
	CU_ASSERT_EQUAL(d.words[107], 1107);
	/* A mapping that ends soon after the table: what can be read is. */
	fake_memory(108, HEADER + 108 * 8);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT(d.nwords >= 64 && d.nwords <= 108);
	fake_memory(108, HEADER);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT_EQUAL(d.nwords, 0);
	/* Unreadable, or no cookie: no table. */
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE - 4096, &d), -ENOENT);
	fake_memory(108, 8192);
	fake_mem[0] = 'y';
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -ENOENT);
	free(fake_mem);
	fake_mem = NULL;
}

UNIT_SUITE(debugoffsets_suite)
{
	CU_pSuite s = CU_add_suite("core/debugoffsets", NULL, NULL);

	CU_add_test(s, "field lists of the shipped modules", test_field_lists);
	CU_add_test(s, "bad cookie, short tables, bad versions", test_rejects);
	CU_add_test(s, "an exact module is only cross-checked", test_compare);
	CU_add_test(s, "a newer minor read with an older list", test_apply_newer_minor);
	CU_add_test(s, "read through a backend", test_read);
}
