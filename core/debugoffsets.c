/*
 * _Py_DebugOffsets (see debugoffsets.h).
 *
 * The struct is frozen within a minor version but fields were inserted
 * between minors, so each minor has its own field list, taken from that
 * version's header (Include/internal/pycore_runtime.h in 3.13,
 * pycore_debug_offsets.h from 3.14).  A newer minor is read with the newest
 * list and accepted only if the table's own runtime size and the fields the
 * walker needs are plausible.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "debugoffsets.h"
#include "log.h"

/* Python 3.13: 70 fields after version and free_threaded. */
static const char *const fields_313[] = {
	"runtime_state.size",
	"runtime_state.finalizing",
	"runtime_state.interpreters_head",
	"interpreter_state.size",
	"interpreter_state.id",
	"interpreter_state.next",
	"interpreter_state.threads_head",
	"interpreter_state.gc",
	"interpreter_state.imports_modules",
	"interpreter_state.sysdict",
	"interpreter_state.builtins",
	"interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state",
	"interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked",
	"interpreter_state.gil_runtime_state_holder",
	"thread_state.size",
	"thread_state.prev",
	"thread_state.next",
	"thread_state.interp",
	"thread_state.current_frame",
	"thread_state.thread_id",
	"thread_state.native_thread_id",
	"thread_state.datastack_chunk",
	"thread_state.status",
	"interpreter_frame.size",
	"interpreter_frame.previous",
	"interpreter_frame.executable",
	"interpreter_frame.instr_ptr",
	"interpreter_frame.localsplus",
	"interpreter_frame.owner",
	"code_object.size",
	"code_object.filename",
	"code_object.name",
	"code_object.qualname",
	"code_object.linetable",
	"code_object.firstlineno",
	"code_object.argcount",
	"code_object.localsplusnames",
	"code_object.localspluskinds",
	"code_object.co_code_adaptive",
	"pyobject.size",
	"pyobject.ob_type",
	"type_object.size",
	"type_object.tp_name",
	"type_object.tp_repr",
	"type_object.tp_flags",
	"tuple_object.size",
	"tuple_object.ob_item",
	"tuple_object.ob_size",
	"list_object.size",
	"list_object.ob_item",
	"list_object.ob_size",
	"dict_object.size",
	"dict_object.ma_keys",
	"dict_object.ma_values",
	"float_object.size",
	"float_object.ob_fval",
	"long_object.size",
	"long_object.lv_tag",
	"long_object.ob_digit",
	"bytes_object.size",
	"bytes_object.ob_size",
	"bytes_object.ob_sval",
	"unicode_object.size",
	"unicode_object.state",
	"unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size",
	"gc.collecting",
};

/* Python 3.14: 92 fields after version and free_threaded. */
static const char *const fields_314[] = {
	"runtime_state.size",
	"runtime_state.finalizing",
	"runtime_state.interpreters_head",
	"interpreter_state.size",
	"interpreter_state.id",
	"interpreter_state.next",
	"interpreter_state.threads_head",
	"interpreter_state.threads_main",
	"interpreter_state.gc",
	"interpreter_state.imports_modules",
	"interpreter_state.sysdict",
	"interpreter_state.builtins",
	"interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state",
	"interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked",
	"interpreter_state.gil_runtime_state_holder",
	"interpreter_state.code_object_generation",
	"interpreter_state.tlbc_generation",
	"thread_state.size",
	"thread_state.prev",
	"thread_state.next",
	"thread_state.interp",
	"thread_state.current_frame",
	"thread_state.thread_id",
	"thread_state.native_thread_id",
	"thread_state.datastack_chunk",
	"thread_state.status",
	"interpreter_frame.size",
	"interpreter_frame.previous",
	"interpreter_frame.executable",
	"interpreter_frame.instr_ptr",
	"interpreter_frame.localsplus",
	"interpreter_frame.owner",
	"interpreter_frame.stackpointer",
	"interpreter_frame.tlbc_index",
	"code_object.size",
	"code_object.filename",
	"code_object.name",
	"code_object.qualname",
	"code_object.linetable",
	"code_object.firstlineno",
	"code_object.argcount",
	"code_object.localsplusnames",
	"code_object.localspluskinds",
	"code_object.co_code_adaptive",
	"code_object.co_tlbc",
	"pyobject.size",
	"pyobject.ob_type",
	"type_object.size",
	"type_object.tp_name",
	"type_object.tp_repr",
	"type_object.tp_flags",
	"tuple_object.size",
	"tuple_object.ob_item",
	"tuple_object.ob_size",
	"list_object.size",
	"list_object.ob_item",
	"list_object.ob_size",
	"set_object.size",
	"set_object.used",
	"set_object.table",
	"set_object.mask",
	"dict_object.size",
	"dict_object.ma_keys",
	"dict_object.ma_values",
	"float_object.size",
	"float_object.ob_fval",
	"long_object.size",
	"long_object.lv_tag",
	"long_object.ob_digit",
	"bytes_object.size",
	"bytes_object.ob_size",
	"bytes_object.ob_sval",
	"unicode_object.size",
	"unicode_object.state",
	"unicode_object.length",
	"unicode_object.asciiobject_size",
	"gc.size",
	"gc.collecting",
	"gen_object.size",
	"gen_object.gi_name",
	"gen_object.gi_iframe",
	"gen_object.gi_frame_state",
	"llist_node.next",
	"llist_node.prev",
	"debugger_support.eval_breaker",
	"debugger_support.remote_debugger_support",
	"debugger_support.remote_debugging_enabled",
	"debugger_support.debugger_pending_call",
	"debugger_support.debugger_script_path",
	"debugger_support.debugger_script_path_size",
};

/* Python 3.15: 108 fields after version and free_threaded. */
static const char *const fields_315[] = {
	"runtime_state.size",
	"runtime_state.finalizing",
	"runtime_state.interpreters_head",
	"interpreter_state.size",
	"interpreter_state.id",
	"interpreter_state.next",
	"interpreter_state.threads_head",
	"interpreter_state.threads_main",
	"interpreter_state.gc",
	"interpreter_state.imports_modules",
	"interpreter_state.sysdict",
	"interpreter_state.builtins",
	"interpreter_state.ceval_gil",
	"interpreter_state.gil_runtime_state",
	"interpreter_state.gil_runtime_state_enabled",
	"interpreter_state.gil_runtime_state_locked",
	"interpreter_state.gil_runtime_state_holder",
	"interpreter_state.code_object_generation",
	"interpreter_state.tlbc_generation",
	"thread_state.size",
	"thread_state.prev",
	"thread_state.next",
	"thread_state.interp",
	"thread_state.current_frame",
	"thread_state.base_frame",
	"thread_state.last_profiled_frame",
	"thread_state.last_profiled_frame_seq",
	"thread_state.thread_id",
	"thread_state.native_thread_id",
	"thread_state.datastack_chunk",
	"thread_state.status",
	"thread_state.holds_gil",
	"thread_state.gil_requested",
	"thread_state.current_exception",
	"thread_state.exc_state",
	"err_stackitem.exc_value",
	"interpreter_frame.size",
	"interpreter_frame.previous",
	"interpreter_frame.executable",
	"interpreter_frame.instr_ptr",
	"interpreter_frame.localsplus",
	"interpreter_frame.owner",
	"interpreter_frame.stackpointer",
	"interpreter_frame.tlbc_index",
	"code_object.size",
	"code_object.filename",
	"code_object.name",
	"code_object.qualname",
	"code_object.linetable",
	"code_object.firstlineno",
	"code_object.argcount",
	"code_object.localsplusnames",
	"code_object.localspluskinds",
	"code_object.co_code_adaptive",
	"code_object.co_tlbc",
	"pyobject.size",
	"pyobject.ob_type",
	"type_object.size",
	"type_object.tp_name",
	"type_object.tp_repr",
	"type_object.tp_flags",
	"type_object.tp_basicsize",
	"type_object.tp_dictoffset",
	"heap_type_object.size",
	"heap_type_object.ht_cached_keys",
	"tuple_object.size",
	"tuple_object.ob_item",
	"tuple_object.ob_size",
	"list_object.size",
	"list_object.ob_item",
	"list_object.ob_size",
	"set_object.size",
	"set_object.used",
	"set_object.table",
	"set_object.mask",
	"dict_object.size",
	"dict_object.ma_keys",
	"dict_object.ma_values",
	"float_object.size",
	"float_object.ob_fval",
	"long_object.size",
	"long_object.lv_tag",
	"long_object.ob_digit",
	"bytes_object.size",
	"bytes_object.ob_size",
	"bytes_object.ob_sval",
	"unicode_object.size",
	"unicode_object.state",
	"unicode_object.length",
	"unicode_object.asciiobject_size",
	"unicode_object.compactunicodeobject_size",
	"gc.size",
	"gc.collecting",
	"gc.frame",
	"gc.generation_stats_size",
	"gc.generation_stats",
	"gen_object.size",
	"gen_object.gi_name",
	"gen_object.gi_iframe",
	"gen_object.gi_frame_state",
	"llist_node.next",
	"llist_node.prev",
	"debugger_support.eval_breaker",
	"debugger_support.remote_debugger_support",
	"debugger_support.remote_debugging_enabled",
	"debugger_support.debugger_pending_call",
	"debugger_support.debugger_script_path",
	"debugger_support.debugger_script_path_size",
};

static const struct {
	unsigned minor;
	const char *const *names;
	unsigned n;
} tables[] = {
	{ 13, fields_313, sizeof(fields_313) / sizeof(fields_313[0]) },
	{ 14, fields_314, sizeof(fields_314) / sizeof(fields_314[0]) },
	{ 15, fields_315, sizeof(fields_315) / sizeof(fields_315[0]) },
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))
#define HEADER_SIZE 24 /* cookie, version, free_threaded */

int debug_offsets_parse(const void *buf, size_t len, struct debug_offsets *d)
{
	const unsigned char *p = buf;
	unsigned minor, i, t;
	uint64_t v;

	memset(d, 0, sizeof(*d));
	if (len < HEADER_SIZE || memcmp(p, "xdebugpy", 8) != 0)
		return -ENOENT;
	memcpy(&d->version, p + 8, 8);
	memcpy(&d->free_threaded, p + 16, 8);
	if ((d->version >> 24) != 3 || d->free_threaded > 1)
		return -EINVAL;
	minor = (unsigned)((d->version >> 16) & 255);
	if (minor < 13)
		return -EINVAL;
	/* The table of this minor, or the newest one for a newer minor. */
	t = NTABLES - 1;
	for (i = 0; i < NTABLES; i++) {
		if (tables[i].minor == minor)
			t = i;
	}
	if (HEADER_SIZE + (size_t)tables[t].n * 8 > len)
		return -EINVAL;
	d->table_minor = tables[t].minor;
	d->names = tables[t].names;
	d->n = tables[t].n;
	for (i = 0; i < d->n; i++) {
		memcpy(&v, p + HEADER_SIZE + (size_t)i * 8, 8);
		d->values[i] = v;
	}
	return 0;
}

int debug_offsets_get(const struct debug_offsets *d, const char *name, uint64_t *out)
{
	unsigned i;

	for (i = 0; i < d->n; i++) {
		if (strcmp(d->names[i], name) == 0) {
			*out = d->values[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* Offsets the walker cannot do without, each below its struct's size. */
static int plausible(const struct debug_offsets *d)
{
	static const char *const need[][2] = {
		{ "runtime_state.interpreters_head", "runtime_state.size" },
		{ "interpreter_state.threads_head", "interpreter_state.size" },
		{ "thread_state.current_frame", "thread_state.size" },
		{ "thread_state.next", "thread_state.size" },
		{ "interpreter_frame.previous", "interpreter_frame.size" },
		{ "interpreter_frame.executable", "interpreter_frame.size" },
		{ "interpreter_frame.instr_ptr", "interpreter_frame.size" },
		{ "interpreter_frame.owner", "interpreter_frame.size" },
		{ "code_object.filename", "code_object.size" },
		{ "code_object.name", "code_object.size" },
		{ "code_object.co_code_adaptive", "code_object.size" },
	};
	unsigned i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		uint64_t off, size;

		if (debug_offsets_get(d, need[i][0], &off) || debug_offsets_get(d, need[i][1], &size))
			return 0;
		if (size == 0 || size > (1u << 24) || off >= size)
			return 0;
	}
	return 1;
}

int debug_offsets_read(struct remote *r, uint64_t runtime, struct debug_offsets *d)
{
	unsigned char buf[HEADER_SIZE + DEBUG_OFFSETS_MAX * 8];
	int rc;

	memset(d, 0, sizeof(*d));
	if (remote_read(r, runtime, buf, HEADER_SIZE) != 0 || memcmp(buf, "xdebugpy", 8) != 0)
		return -ENOENT;
	if (remote_read(r, runtime, buf, sizeof(buf)) != 0) {
		/* The table is smaller than our buffer: read what the newest list needs. */
		size_t need = HEADER_SIZE + (size_t)tables[NTABLES - 1].n * 8;

		if (remote_read(r, runtime, buf, need) != 0)
			return -EFAULT;
	}
	rc = debug_offsets_parse(buf, sizeof(buf), d);
	if (rc)
		return rc;
	if (!plausible(d))
		return -EINVAL;
	return 0;
}

/* Where each table field goes in struct pyspy_layout. */
#define LAYOUT_FIELD(member) offsetof(struct pyspy_layout, member)
static const struct {
	const char *name;
	size_t where;
} map[] = {
	{ "runtime_state.size", LAYOUT_FIELD(runtime.size) },
	{ "runtime_state.interpreters_head", LAYOUT_FIELD(runtime.interpreters_head) },
	{ "interpreter_state.size", LAYOUT_FIELD(interp.size) },
	{ "interpreter_state.id", LAYOUT_FIELD(interp.id) },
	{ "interpreter_state.next", LAYOUT_FIELD(interp.next) },
	{ "interpreter_state.threads_head", LAYOUT_FIELD(interp.tstate_head) },
	{ "interpreter_state.imports_modules", LAYOUT_FIELD(interp.modules) },
	{ "interpreter_state.ceval_gil", LAYOUT_FIELD(interp.ceval_gil) },
	{ "thread_state.size", LAYOUT_FIELD(tstate.size) },
	{ "thread_state.prev", LAYOUT_FIELD(tstate.prev) },
	{ "thread_state.next", LAYOUT_FIELD(tstate.next) },
	{ "thread_state.interp", LAYOUT_FIELD(tstate.interp) },
	{ "thread_state.current_frame", LAYOUT_FIELD(tstate.current_frame) },
	{ "thread_state.base_frame", LAYOUT_FIELD(tstate.base_frame) },
	{ "thread_state.thread_id", LAYOUT_FIELD(tstate.thread_id) },
	{ "thread_state.native_thread_id", LAYOUT_FIELD(tstate.native_thread_id) },
	{ "thread_state.datastack_chunk", LAYOUT_FIELD(tstate.datastack_chunk) },
	{ "thread_state.holds_gil", LAYOUT_FIELD(tstate.holds_gil) },
	{ "interpreter_frame.size", LAYOUT_FIELD(iframe.size) },
	{ "interpreter_frame.previous", LAYOUT_FIELD(iframe.previous) },
	{ "interpreter_frame.executable", LAYOUT_FIELD(iframe.executable) },
	{ "interpreter_frame.instr_ptr", LAYOUT_FIELD(iframe.instr_ptr) },
	{ "interpreter_frame.owner", LAYOUT_FIELD(iframe.owner) },
	{ "code_object.size", LAYOUT_FIELD(code.size) },
	{ "code_object.filename", LAYOUT_FIELD(code.filename) },
	{ "code_object.name", LAYOUT_FIELD(code.name) },
	{ "code_object.qualname", LAYOUT_FIELD(code.qualname) },
	{ "code_object.linetable", LAYOUT_FIELD(code.linetable) },
	{ "code_object.firstlineno", LAYOUT_FIELD(code.firstlineno) },
	{ "code_object.co_code_adaptive", LAYOUT_FIELD(code.code_adaptive) },
	{ "pyobject.ob_type", LAYOUT_FIELD(object.ob_type) },
	{ "type_object.tp_name", LAYOUT_FIELD(object.tp_name) },
	{ "type_object.tp_flags", LAYOUT_FIELD(object.tp_flags) },
	{ "type_object.tp_basicsize", LAYOUT_FIELD(object.tp_basicsize) },
	{ "type_object.tp_dictoffset", LAYOUT_FIELD(object.tp_dictoffset) },
	{ "heap_type_object.ht_cached_keys", LAYOUT_FIELD(object.ht_cached_keys) },
	{ "dict_object.ma_keys", LAYOUT_FIELD(dict.ma_keys) },
	{ "dict_object.ma_values", LAYOUT_FIELD(dict.ma_values) },
	{ "bytes_object.ob_size", LAYOUT_FIELD(bytes.ob_size) },
	{ "bytes_object.ob_sval", LAYOUT_FIELD(bytes.ob_sval) },
	{ "tuple_object.ob_item", LAYOUT_FIELD(tuple.ob_item) },
	{ "unicode_object.state", LAYOUT_FIELD(unicode.state) },
	{ "unicode_object.length", LAYOUT_FIELD(unicode.length) },
	{ "unicode_object.asciiobject_size", LAYOUT_FIELD(unicode.ascii_data) },
	{ "unicode_object.compactunicodeobject_size", LAYOUT_FIELD(unicode.compact_data) },
};

void debug_offsets_apply(const struct debug_offsets *d, struct pyspy_layout *l, int check)
{
	uint64_t current_frame;
	unsigned i;

	/* A runtime with this table keeps its current frame in the thread state
	 * (3.13+), whatever the borrowed module says about cframes. */
	if (debug_offsets_get(d, "thread_state.current_frame", &current_frame) == 0 &&
	    l->frame_model != PYSPY_FRAMES_CURRENT) {
		if (check)
			log_info("_Py_DebugOffsets: frames hang off the thread state, not a cframe");
		l->frame_model = PYSPY_FRAMES_CURRENT;
		l->tstate.cframe = PYSPY_NO_OFFSET;
		l->tstate.cframe_current_frame = PYSPY_NO_OFFSET;
	}

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		int32_t *field = (int32_t *)((char *)l + map[i].where);
		uint64_t v;

		if (debug_offsets_get(d, map[i].name, &v) != 0 || v > INT32_MAX)
			continue;
		/* 0 in a field the module says is absent means "not in this build". */
		if (v == 0 && *field == PYSPY_NO_OFFSET)
			continue;
		if (check && *field != (int32_t)v)
			log_info("_Py_DebugOffsets: %s is %llu in the target, %d in the layout module; "
				 "using the target's", map[i].name, (unsigned long long)v, *field);
		*field = (int32_t)v;
	}
}
