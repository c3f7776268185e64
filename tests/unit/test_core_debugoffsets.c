/*
 * core/debugoffsets.c: _Py_DebugOffsets tables built here as the runtime
 * lays them out (cookie, version, free_threaded, then one uint64 per field
 * in the order of that minor's header), parsed from exact-size buffers.
 * The field positions asserted below were read from the real headers
 * (3.13.0 pycore_runtime.h; 3.14 and 3.15 pycore_debug_offsets.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/debugoffsets.h"
#include "unit.h"

#define HEADER 24

/* A table of `nfields` values 1000 + i after the header, in an exact-size
 * heap buffer (caller frees). */
static unsigned char *make_table(const char *cookie, uint64_t version, uint64_t ft, unsigned nfields,
				 size_t *len)
{
	unsigned char *b;
	unsigned i;

	*len = HEADER + (size_t)nfields * 8;
	b = malloc(*len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	memcpy(b, cookie, 8);
	memcpy(b + 8, &version, 8);
	memcpy(b + 16, &ft, 8);
	for (i = 0; i < nfields; i++) {
		uint64_t v = 1000 + i;

		memcpy(b + HEADER + (size_t)i * 8, &v, 8);
	}
	return b;
}

static uint64_t get(const struct debug_offsets *d, const char *name)
{
	uint64_t v = 0xdeadbeef;

	CU_ASSERT_EQUAL(debug_offsets_get(d, name, &v), 0);
	return v;
}

static void test_minor_tables(void)
{
	static const struct {
		uint64_t version;
		unsigned minor, n;
		/* field -> index in that minor's list */
		unsigned current_frame, base_frame, last;
		const char *last_name;
	} cases[] = {
		{ 0x030D00F0, 13, 70, 20, 0, 69, "gc.collecting" },
		{ 0x030D05F0, 13, 70, 20, 0, 69, "gc.collecting" },
		{ 0x030E00C1, 14, 92, 23, 0, 91, "debugger_support.debugger_script_path_size" },
		{ 0x030F00A3, 15, 108, 23, 24, 107, "debugger_support.debugger_script_path_size" },
		/* A newer minor is read with the newest list. */
		{ 0x031000A1, 15, 108, 23, 24, 107, "debugger_support.debugger_script_path_size" },
		{ 0x03FF00F0, 15, 108, 23, 24, 107, "debugger_support.debugger_script_path_size" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct debug_offsets d;
		size_t len;
		unsigned char *b = make_table("xdebugpy", cases[i].version, 1, cases[i].n, &len);
		uint64_t v;

		CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
		CU_ASSERT_EQUAL(d.version, cases[i].version);
		CU_ASSERT_EQUAL(d.free_threaded, 1);
		CU_ASSERT_EQUAL(d.table_minor, cases[i].minor);
		CU_ASSERT_EQUAL(d.n, cases[i].n);
		CU_ASSERT_EQUAL(get(&d, "runtime_state.size"), 1000);
		CU_ASSERT_EQUAL(get(&d, "runtime_state.interpreters_head"), 1002);
		CU_ASSERT_EQUAL(get(&d, "interpreter_state.size"), 1003);
		CU_ASSERT_EQUAL(get(&d, "thread_state.current_frame"), 1000 + cases[i].current_frame);
		CU_ASSERT_EQUAL(get(&d, cases[i].last_name), 1000 + cases[i].last);
		CU_ASSERT_STRING_EQUAL(d.names[d.n - 1], cases[i].last_name);
		if (cases[i].base_frame) {
			CU_ASSERT_EQUAL(get(&d, "thread_state.base_frame"), 1000 + cases[i].base_frame);
		} else {
			CU_ASSERT_EQUAL(debug_offsets_get(&d, "thread_state.base_frame", &v), -ENOENT);
		}
		CU_ASSERT_EQUAL(debug_offsets_get(&d, "no.such_field", &v), -ENOENT);
		CU_ASSERT_EQUAL(debug_offsets_get(&d, "", &v), -ENOENT);
		free(b);
	}
}

/* A few more positions, each minor (what the walker uses most). */
static void test_positions(void)
{
	static const struct { uint64_t version; unsigned n; const char *name; unsigned index; } cases[] = {
		{ 0x030D00F0, 70, "interpreter_state.threads_head", 6 },
		{ 0x030D00F0, 70, "interpreter_frame.previous", 26 },
		{ 0x030D00F0, 70, "interpreter_frame.owner", 30 },
		{ 0x030D00F0, 70, "code_object.co_code_adaptive", 40 },
		{ 0x030D00F0, 70, "unicode_object.asciiobject_size", 67 },
		{ 0x030E00F0, 92, "interpreter_state.threads_main", 7 },
		{ 0x030E00F0, 92, "interpreter_frame.previous", 29 },
		{ 0x030E00F0, 92, "code_object.co_tlbc", 46 },
		{ 0x030E00F0, 92, "set_object.mask", 62 },
		{ 0x030F00F0, 108, "thread_state.holds_gil", 31 },
		{ 0x030F00F0, 108, "err_stackitem.exc_value", 35 },
		{ 0x030F00F0, 108, "interpreter_frame.previous", 37 },
		{ 0x030F00F0, 108, "heap_type_object.ht_cached_keys", 64 },
		{ 0x030F00F0, 108, "unicode_object.compactunicodeobject_size", 90 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct debug_offsets d;
		size_t len;
		unsigned char *b = make_table("xdebugpy", cases[i].version, 0, cases[i].n, &len);

		CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
		CU_ASSERT_EQUAL(get(&d, cases[i].name), 1000 + cases[i].index);
		free(b);
	}
}

static void test_rejects(void)
{
	struct debug_offsets d;
	unsigned char *b;
	size_t len;

	/* No cookie: no table (before 3.13). */
	b = make_table("xdebugpx", 0x030D00F0, 0, 70, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -ENOENT);
	free(b);
	b = make_table("\0\0\0\0\0\0\0\0", 0x030D00F0, 0, 70, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -ENOENT);
	free(b);
	/* Shorter than the header. */
	b = make_table("xdebugpy", 0x030D00F0, 0, 0, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, 23, &d), -ENOENT);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, 7, &d), -ENOENT);
	/* Header only: the field list does not fit. */
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	/* One field short of each minor's list. */
	b = make_table("xdebugpy", 0x030D00F0, 0, 69, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x030E00F0, 0, 91, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x031000F0, 0, 107, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	/* Versions that cannot have a table, a bad free_threaded flag. */
	b = make_table("xdebugpy", 0x030C01F0, 0, 108, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x020712F0, 0, 108, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x040000F0, 0, 108, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x1030D00F0ull, 0, 108, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	b = make_table("xdebugpy", 0x030D00F0, 2, 108, &len);
	CU_ASSERT_EQUAL(debug_offsets_parse(b, len, &d), -EINVAL);
	free(b);
	/* A failed parse leaves nothing to look up. */
	CU_ASSERT_EQUAL(d.n, 0);
}

/* debug_offsets_apply: the table's values win; 0 for a field the module
 * lacks stays absent; values beyond int32 are ignored. */
static void test_apply(void)
{
	struct debug_offsets d;
	struct pyspy_layout l;
	unsigned char *b;
	size_t len;
	uint64_t big = (uint64_t)INT32_MAX + 1, zero = 0;

	b = make_table("xdebugpy", 0x030F00F0, 0, 108, &len);
	/* thread_state.base_frame (24) = 0, thread_state.datastack_chunk (29) too big,
	 * interpreter_state.id (4) = 0 */
	memcpy(b + HEADER + 24 * 8, &zero, 8);
	memcpy(b + HEADER + 29 * 8, &big, 8);
	memcpy(b + HEADER + 4 * 8, &zero, 8);
	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(b, len, &d), 0);
	memset(&l, 0, sizeof(l));
	l.tstate.base_frame = PYSPY_NO_OFFSET;
	l.tstate.datastack_chunk = 77;
	l.interp.id = 5;
	l.code.tlbc = 66; /* not in the map: untouched */
	debug_offsets_apply(&d, &l, 1);
	CU_ASSERT_EQUAL(l.runtime.size, 1000);
	CU_ASSERT_EQUAL(l.runtime.interpreters_head, 1002);
	CU_ASSERT_EQUAL(l.interp.tstate_head, 1006);
	CU_ASSERT_EQUAL(l.interp.modules, 1009);
	CU_ASSERT_EQUAL(l.tstate.current_frame, 1023);
	CU_ASSERT_EQUAL(l.tstate.holds_gil, 1031);
	CU_ASSERT_EQUAL(l.iframe.previous, 1037);
	CU_ASSERT_EQUAL(l.iframe.owner, 1041);
	CU_ASSERT_EQUAL(l.code.code_adaptive, 1053);
	CU_ASSERT_EQUAL(l.unicode.compact_data, 1090);
	CU_ASSERT_EQUAL(l.tstate.base_frame, PYSPY_NO_OFFSET);
	CU_ASSERT_EQUAL(l.tstate.datastack_chunk, 77);
	CU_ASSERT_EQUAL(l.interp.id, 0); /* the module had it: 0 is a real offset */
	CU_ASSERT_EQUAL(l.code.tlbc, 66);
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

/* A plausible table: every "*.size" 4096, every other field 8 * index. */
static void make_plausible(uint64_t version, unsigned nfields, size_t mem_len)
{
	struct debug_offsets probe;
	size_t len;
	unsigned char *t = make_table("xdebugpy", version, 0, nfields, &len);
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(debug_offsets_parse(t, len, &probe), 0);
	for (i = 0; i < nfields; i++) {
		const char *dot = strchr(probe.names[i], '.');
		uint64_t v = strcmp(dot, ".size") == 0 ? 4096 : 8 * (uint64_t)i;

		memcpy(t + HEADER + (size_t)i * 8, &v, 8);
	}
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
	uint64_t v, bad = 5000;

	memset(&r, 0, sizeof(r));
	ops.read = fake_read;
	r.ops = &ops;

	/* The runtime is much larger than the table (the usual case). */
	make_plausible(0x030D00F0, 70, 8192);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT_EQUAL(d.table_minor, 13);
	CU_ASSERT_EQUAL(debug_offsets_get(&d, "thread_state.current_frame", &v), 0);
	CU_ASSERT_EQUAL(v, 8 * 20);
	make_plausible(0x030F00F0, 108, 8192);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT_EQUAL(d.table_minor, 15);
	/* A mapping that ends right after the newest list: read in two steps. */
	make_plausible(0x030F00F0, 108, HEADER + 108 * 8);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), 0);
	CU_ASSERT_EQUAL(d.n, 108);
	make_plausible(0x030F00F0, 108, HEADER + 108 * 8 - 1);
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -EFAULT);
	/* Unreadable, or no cookie: no table. */
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE - 4096, &d), -ENOENT);
	make_plausible(0x030D00F0, 70, 8192);
	fake_mem[0] = 'y';
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -ENOENT);
	/* An offset the walker needs beyond its struct's size: not plausible. */
	make_plausible(0x030D00F0, 70, 8192);
	memcpy(fake_mem + HEADER + 20 * 8, &bad, 8); /* thread_state.current_frame */
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -EINVAL);
	make_plausible(0x030D00F0, 70, 8192);
	memset(fake_mem + HEADER + 16 * 8, 0, 8);   /* thread_state.size = 0 */
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -EINVAL);
	make_plausible(0x030D00F0, 70, 8192);
	memset(fake_mem + 16, 7, 1);                /* free_threaded = 7 */
	CU_ASSERT_EQUAL(debug_offsets_read(&r, FAKE_BASE, &d), -EINVAL);
	free(fake_mem);
	fake_mem = NULL;
}

UNIT_SUITE(debugoffsets_suite)
{
	CU_pSuite s = CU_add_suite("core/debugoffsets", NULL, NULL);

	CU_add_test(s, "field list per minor, newest for newer", test_minor_tables);
	CU_add_test(s, "field positions from the headers", test_positions);
	CU_add_test(s, "bad cookie, short tables, bad versions", test_rejects);
	CU_add_test(s, "apply to a layout", test_apply);
	CU_add_test(s, "read from a target, plausibility", test_read);
}
