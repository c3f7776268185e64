/*
 * probe.c: print the offsets, sizes, enum values and bit-field masks that a
 * py-spy layout module needs, for the CPython headers it is compiled against.
 *
 * Built and run by tools/genlayout/genlayout.py, never linked with
 * libpython: every value printed is a compile-time constant.
 *
 *   cc -std=gnu11 -w [-DPy_BUILD_CORE] [-DPy_DEBUG ...] -I$INC -I$INC/internal \
 *      [-I/usr/include] probe.c -o probe && ./probe
 *
 * Output: one "key value" line per fact.  A key that is not printed means
 * the field does not exist in these headers; the generator then writes
 * PYSPY_NO_OFFSET.  Key names follow the members of struct pyspy_layout
 * (include/pyspy/layout.h) where there is one; "cfg.", "const." and "has."
 * keys are the facts the generator uses to choose the models.
 *
 * Which header defines what, per version: cpython-internals.md section 2.2
 * and 7.  Field presence is gated by PY_VERSION_HEX because C cannot test
 * for a member; the generator decides the models from which keys appear.
 */
#include "Python.h"
#include "frameobject.h"
#if PY_VERSION_HEX < 0x030B0000
#include "code.h"
#endif

#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x03080000
#include "internal/pystate.h"
#elif PY_VERSION_HEX >= 0x03080000 && PY_VERSION_HEX < 0x03090000
#include "internal/pycore_pystate.h"
#include "internal/pycore_gil.h"
#elif PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_gil.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_object.h"
#endif
#if PY_VERSION_HEX < 0x030B0000
#include "longintrepr.h"
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000
#include "internal/pycore_frame.h"
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include "internal/pycore_tstate.h"
#include "internal/pycore_pystate.h"
#endif
#if PY_VERSION_HEX >= 0x030E0000
#include "internal/pycore_interpframe.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_stackref.h"
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define O(key, type, member) printf("%s %zu\n", key, offsetof(type, member))
#define S(key, type) printf("%s %zu\n", key, sizeof(type))
#define C(key, value) printf("%s %lld\n", key, (long long)(value))

/* Mask of a bit field: zero the struct, set the field to all ones, read
 * back the 32-bit word at `word` (the offset of the containing word). */
#define MASK(key, type, field, word)                                    \
	do {                                                            \
		type v_;                                                \
		uint32_t w_;                                            \
		memset(&v_, 0, sizeof(v_));                             \
		v_.field = -1;                                          \
		memcpy(&w_, (char *)&v_ + (word), sizeof(w_));          \
		printf("%s 0x%08x\n", key, w_);                         \
	} while (0)

#if PY_VERSION_HEX >= 0x03060000 && PY_VERSION_HEX < 0x030B0000
/*
 * PyDictKeysObject of 3.6-3.10 is defined in Objects/dict-common.h, which
 * is not installed.  This mirrors its members (the same in 3.6-3.10: 3.6
 * has a union for dk_indices, 3.7+ a char array, both at the same place).
 */
struct probe_dictkeys {
	Py_ssize_t dk_refcnt;
	Py_ssize_t dk_size;
	void *dk_lookup;
	Py_ssize_t dk_usable;
	Py_ssize_t dk_nentries;
	char dk_indices[];
};
struct probe_dictentry {
	Py_hash_t me_hash;
	PyObject *me_key;
	PyObject *me_value;
};
#endif

static void probe_config(void)
{
	C("cfg.PY_VERSION_HEX", PY_VERSION_HEX);
	printf("cfg.PY_VERSION %s\n", PY_VERSION);
	C("cfg.pointer_size", sizeof(void *));
#ifdef Py_DEBUG
	C("cfg.Py_DEBUG", 1);
#endif
#ifdef Py_TRACE_REFS
	C("cfg.Py_TRACE_REFS", 1);
#endif
#ifdef Py_GIL_DISABLED
	C("cfg.Py_GIL_DISABLED", 1);
#endif
#ifdef _Py_JIT
	C("cfg._Py_JIT", 1);
#endif
#ifdef _Py_TIER2
	C("cfg._Py_TIER2", _Py_TIER2);
#endif
}

static void probe_runtime(void)
{
#if PY_VERSION_HEX >= 0x03070000
	S("runtime.size", _PyRuntimeState);
	O("runtime.interpreters_head", _PyRuntimeState, interpreters.head);
	O("runtime.interpreters_main", _PyRuntimeState, interpreters.main);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	O("runtime.main_interpreter", _PyRuntimeState, _main_interpreter);
#endif
#if PY_VERSION_HEX >= 0x03070000 && PY_VERSION_HEX < 0x030C0000
	O("runtime.gilstate_tstate_current", _PyRuntimeState, gilstate.tstate_current);
	O("runtime.gil_locked", _PyRuntimeState, ceval.gil.locked);
	O("runtime.gil_last_holder", _PyRuntimeState, ceval.gil.last_holder);
#endif
#if PY_VERSION_HEX >= 0x030D0000
	O("runtime.debug_offsets", _PyRuntimeState, debug_offsets);
#endif
}

static void probe_interp(void)
{
	S("interp.size", PyInterpreterState);
	O("interp.next", PyInterpreterState, next);
#if PY_VERSION_HEX < 0x030B0000
	O("interp.tstate_head", PyInterpreterState, tstate_head);
#else
	O("interp.tstate_head", PyInterpreterState, threads.head);
#endif
#if PY_VERSION_HEX >= 0x03070000
	O("interp.id", PyInterpreterState, id);
#endif
#if PY_VERSION_HEX < 0x030C0000
	O("interp.modules", PyInterpreterState, modules);
#else
	O("interp.modules", PyInterpreterState, imports.modules);
	O("interp.ceval_gil", PyInterpreterState, ceval.gil);
	O("interp.gil_locked", struct _gil_runtime_state, locked);
	O("interp.gil_last_holder", struct _gil_runtime_state, last_holder);
#endif
}

static void probe_tstate(void)
{
	S("tstate.size", PyThreadState);
#if PY_VERSION_HEX >= 0x03000000
	O("tstate.prev", PyThreadState, prev);
#endif
	O("tstate.next", PyThreadState, next);
	O("tstate.interp", PyThreadState, interp);
#if PY_VERSION_HEX < 0x030B0000
	O("tstate.frame", PyThreadState, frame);
#elif PY_VERSION_HEX < 0x030D0000
	O("tstate.cframe", PyThreadState, cframe);
	O("tstate.cframe_current_frame", _PyCFrame, current_frame);
#else
	O("tstate.current_frame", PyThreadState, current_frame);
#endif
	O("tstate.thread_id", PyThreadState, thread_id);
#if PY_VERSION_HEX >= 0x030B0000
	O("tstate.native_thread_id", PyThreadState, native_thread_id);
	O("tstate.datastack_chunk", PyThreadState, datastack_chunk);
	O("tstate.datastack_top", PyThreadState, datastack_top);
#endif
#if PY_VERSION_HEX >= 0x030C0000
	O("tstate.status", PyThreadState, _status);
#endif
#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
	MASK("tstate.status_holds_gil_mask", PyThreadState, _status.holds_gil,
	     offsetof(PyThreadState, _status));
#endif
#if PY_VERSION_HEX >= 0x030E0000
	O("tstate.holds_gil", PyThreadState, holds_gil);
#endif
#if PY_VERSION_HEX >= 0x030D0000
	O("tstate.state", PyThreadState, state);
	C("const._Py_THREAD_ATTACHED", _Py_THREAD_ATTACHED);
#endif
#if PY_VERSION_HEX >= 0x030F0000
	O("tstate.base_frame", PyThreadState, base_frame);
#endif
}

static void probe_frames(void)
{
#if PY_VERSION_HEX < 0x030B0000
	S("frame.size", PyFrameObject);
	O("frame.back", PyFrameObject, f_back);
	O("frame.code", PyFrameObject, f_code);
	O("frame.lasti", PyFrameObject, f_lasti);
#else
	S("iframe.size", _PyInterpreterFrame);
	O("iframe.previous", _PyInterpreterFrame, previous);
	O("iframe.owner", _PyInterpreterFrame, owner);
	C("const.FRAME_OWNED_BY_GENERATOR", FRAME_OWNED_BY_GENERATOR);
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
	O("iframe.executable", _PyInterpreterFrame, f_code);
	O("iframe.instr_ptr", _PyInterpreterFrame, prev_instr);
#elif PY_VERSION_HEX >= 0x030D0000
	O("iframe.executable", _PyInterpreterFrame, f_executable);
	O("iframe.instr_ptr", _PyInterpreterFrame, instr_ptr);
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
	O("iframe.is_entry", _PyInterpreterFrame, is_entry);
#endif
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030F0000
	C("const.FRAME_OWNED_BY_CSTACK", FRAME_OWNED_BY_CSTACK);
#endif
#if PY_VERSION_HEX >= 0x030E0000
	C("const.FRAME_OWNED_BY_INTERPRETER", FRAME_OWNED_BY_INTERPRETER);
	/* f_executable is a tagged _PyStackRef: its tag bits must be cleared. */
	{
		_PyInterpreterFrame f_;
		C("has.executable_stackref",
		  __builtin_types_compatible_p(__typeof__(f_.f_executable), _PyStackRef));
		(void)f_;
	}
	C("const.Py_TAG_BITS", Py_TAG_BITS);
#endif
#if PY_VERSION_HEX >= 0x030E0000 && defined(Py_GIL_DISABLED)
	O("iframe.tlbc_index", _PyInterpreterFrame, tlbc_index);
#endif
}

static void probe_code(void)
{
	S("code.size", PyCodeObject);
	O("code.filename", PyCodeObject, co_filename);
	O("code.name", PyCodeObject, co_name);
#if PY_VERSION_HEX >= 0x030B0000
	O("code.qualname", PyCodeObject, co_qualname);
#endif
	O("code.firstlineno", PyCodeObject, co_firstlineno);
#if PY_VERSION_HEX < 0x030A0000
	O("code.co_lnotab", PyCodeObject, co_lnotab);
#else
	O("code.co_linetable", PyCodeObject, co_linetable);
#endif
#if PY_VERSION_HEX < 0x030B0000
	O("code.code", PyCodeObject, co_code);
#else
	O("code.code_adaptive", PyCodeObject, co_code_adaptive);
#endif
#if PY_VERSION_HEX >= 0x03060000
	S("const.sizeof_Py_CODEUNIT", _Py_CODEUNIT);
#endif
#if PY_VERSION_HEX >= 0x030E0000 && defined(Py_GIL_DISABLED)
	O("code.tlbc", PyCodeObject, co_tlbc);
#endif
}

static void probe_objects(void)
{
	S("object.sizeof_PyObject", PyObject);
	O("object.ob_type", PyObject, ob_type);
#ifndef Py_GIL_DISABLED
	O("ob_refcnt", PyObject, ob_refcnt);
#endif
#if PY_VERSION_HEX >= 0x030B0000
	O("chunk.size", _PyStackChunk, size);
#endif
	O("object.ob_size", PyVarObject, ob_size);
	O("object.tp_name", PyTypeObject, tp_name);
	O("object.tp_basicsize", PyTypeObject, tp_basicsize);
	O("object.tp_dictoffset", PyTypeObject, tp_dictoffset);
	O("object.tp_flags", PyTypeObject, tp_flags);
#if PY_VERSION_HEX >= 0x03030000
	O("object.ht_cached_keys", PyHeapTypeObject, ht_cached_keys);
#endif
#ifdef Py_TPFLAGS_MANAGED_DICT
	C("object.managed_dict_flag", Py_TPFLAGS_MANAGED_DICT);
#endif
#ifdef Py_TPFLAGS_INLINE_VALUES
	C("object.inline_values_flag", Py_TPFLAGS_INLINE_VALUES);
#endif
#ifdef Py_TPFLAGS_PREHEADER
	C("has.Py_TPFLAGS_PREHEADER", 1);
#endif
	O("tuple.ob_item", PyTupleObject, ob_item);
}

static void probe_strings(void)
{
#if PY_VERSION_HEX < 0x03000000
	C("has.PyStringObject", 1);
	O("bytes.ob_size", PyStringObject, ob_size);
	O("bytes.ob_sval", PyStringObject, ob_sval);
#else
	O("bytes.ob_size", PyBytesObject, ob_base.ob_size);
	O("bytes.ob_sval", PyBytesObject, ob_sval);
	O("unicode.length", PyASCIIObject, length);
	O("unicode.state", PyASCIIObject, state);
	S("unicode.ascii_data", PyASCIIObject);
	S("unicode.compact_data", PyCompactUnicodeObject);
	O("unicode.legacy_data", PyUnicodeObject, data);
	MASK("unicode.kind_mask", PyASCIIObject, state.kind, offsetof(PyASCIIObject, state));
	MASK("unicode.compact_mask", PyASCIIObject, state.compact, offsetof(PyASCIIObject, state));
	MASK("unicode.ascii_mask", PyASCIIObject, state.ascii, offsetof(PyASCIIObject, state));
#endif
}

static void probe_dict(void)
{
#if PY_VERSION_HEX < 0x03000000
	O("dict.ma_used", PyDictObject, ma_used);
	O("dict.ma_mask", PyDictObject, ma_mask);
	O("dict.ma_table", PyDictObject, ma_table);
	S("dict.entry_size", PyDictEntry);
#else
	O("dict.ma_used", PyDictObject, ma_used);
	O("dict.ma_keys", PyDictObject, ma_keys);
	O("dict.ma_values", PyDictObject, ma_values);
#endif
#if PY_VERSION_HEX >= 0x03060000 && PY_VERSION_HEX < 0x030B0000
	O("dict.dk_size", struct probe_dictkeys, dk_size);
	O("dict.dk_nentries", struct probe_dictkeys, dk_nentries);
	O("dict.dk_indices", struct probe_dictkeys, dk_indices);
	S("dict.entry_size", struct probe_dictentry);
#elif PY_VERSION_HEX >= 0x030B0000
	O("dict.dk_log2_size", PyDictKeysObject, dk_log2_size);
	O("dict.dk_log2_index_bytes", PyDictKeysObject, dk_log2_index_bytes);
	O("dict.dk_kind", PyDictKeysObject, dk_kind);
	O("dict.dk_nentries", PyDictKeysObject, dk_nentries);
	O("dict.dk_indices", PyDictKeysObject, dk_indices);
	S("dict.entry_size", PyDictKeyEntry);
	S("dict.unicode_entry_size", PyDictUnicodeEntry);
	O("dict.values_values", PyDictValues, values);
#endif
}

/* Thread names: int objects (thread idents), a module's __dict__, and where
 * an instance keeps its attributes (managed dict, values, inline values). */
static void probe_names(void)
{
	C("names.present", 1);
#if PY_VERSION_HEX >= 0x030C0000
	O("names.long_size", PyLongObject, long_value.lv_tag);
	O("names.long_digits", PyLongObject, long_value.ob_digit);
	C("names.long_tagged", 1);
#else
	O("names.long_size", PyVarObject, ob_size);
	O("names.long_digits", PyLongObject, ob_digit);
	C("names.long_tagged", 0);
#endif
	C("names.long_shift", PyLong_SHIFT);
#if PY_VERSION_HEX < 0x03000000
	O("names.int_ival", PyIntObject, ob_ival);
#endif
	/* PyModuleObject (private before 3.10) is PyObject_HEAD then md_dict. */
	S("names.module_dict", PyObject);
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
	{
		/* The 3.11/3.12 accessors are inline functions: ask them. */
		static PyTypeObject type;
		static PyObject *mem[16];
		PyObject *o = (PyObject *)&mem[8];

		type.tp_flags = Py_TPFLAGS_MANAGED_DICT;
		Py_SET_TYPE(o, &type);
#if PY_VERSION_HEX < 0x030C0000
		C("names.managed_dict", (char *)_PyObject_ManagedDictPointer(o) - (char *)o);
		C("names.managed_values", (char *)_PyObject_ValuesPointer(o) - (char *)o);
#else
		C("names.managed_dict", (char *)_PyObject_DictOrValuesPointer(o) - (char *)o);
#endif
	}
#elif defined(MANAGED_DICT_OFFSET)
	C("names.managed_dict", MANAGED_DICT_OFFSET);
#endif
#if PY_VERSION_HEX >= 0x030D0000
	O("names.values_valid", PyDictValues, valid);
#endif
}

/* dump --locals: where a frame's variables are, their names and counts in
 * the code object, and the value objects whose reprs are read. */
static void probe_locals(void)
{
	C("locals.present", 1);
#if PY_VERSION_HEX < 0x030B0000
	O("locals.frame_localsplus", PyFrameObject, f_localsplus);
	O("locals.co_varnames", PyCodeObject, co_varnames);
	O("locals.co_cellvars", PyCodeObject, co_cellvars);
	O("locals.co_freevars", PyCodeObject, co_freevars);
#else
	O("locals.iframe_localsplus", _PyInterpreterFrame, localsplus);
	O("locals.co_nlocalsplus", PyCodeObject, co_nlocalsplus);
	O("locals.co_localsplusnames", PyCodeObject, co_localsplusnames);
#endif
#if PY_VERSION_HEX >= 0x030E0000
	{
		_PyInterpreterFrame f_;
		C("has.localsplus_stackref",
		  __builtin_types_compatible_p(__typeof__(f_.localsplus[0]), _PyStackRef));
		(void)f_;
	}
#endif
	O("locals.co_argcount", PyCodeObject, co_argcount);
#if PY_VERSION_HEX >= 0x03000000
	O("locals.co_kwonlyargcount", PyCodeObject, co_kwonlyargcount);
#endif
	O("locals.co_nlocals", PyCodeObject, co_nlocals);
	O("locals.co_flags", PyCodeObject, co_flags);
	C("locals.flag_varargs", CO_VARARGS);
	C("locals.flag_varkeywords", CO_VARKEYWORDS);
	O("locals.cell_ref", PyCellObject, ob_ref);
	O("locals.float_fval", PyFloatObject, ob_fval);
	O("locals.list_ob_item", PyListObject, ob_item);
	O("locals.set_used", PySetObject, used);
	O("locals.set_mask", PySetObject, mask);
	O("locals.set_table", PySetObject, table);
	S("locals.set_entry_size", setentry);
	O("locals.set_entry_key", setentry, key);
	S("locals.long_digit_size", digit);
}

int main(void)
{
	probe_config();
	probe_runtime();
	probe_interp();
	probe_tstate();
	probe_frames();
	probe_code();
	probe_objects();
	probe_strings();
	probe_dict();
	probe_names();
	probe_locals();
	return 0;
}
