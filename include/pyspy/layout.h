/*
 * CPython layout ABI (module kind PYSPY_KIND_LAYOUT).
 *
 * A layout module is generated data only (tools/genlayout): the offsets,
 * sizes, models and constants the walker needs to read one range of CPython
 * versions of one build flavour on one OS and architecture.  The walker never
 * branches on a version number, only on what the layout says.
 *
 * Every offset is a byte offset from the start of its struct, or
 * PYSPY_NO_OFFSET when the field does not exist in that version.
 * Generated files write every member explicitly.
 *
 * The core copies a layout by the module's own `size`: members appended
 * after a module was built are "not present" for it (offsets read as
 * PYSPY_NO_OFFSET, everything else as 0), so an appended member must give
 * 0 (or PYSPY_NO_OFFSET for an offset) the meaning "not known".
 */
#ifndef PYSPY_LAYOUT_H
#define PYSPY_LAYOUT_H

#include <stdint.h>

#include "module.h"

#define PYSPY_NO_OFFSET (-1)

/* PY_VERSION_HEX style: major<<24 | minor<<16 | micro<<8 | level<<4 | serial */
#define PYSPY_PYVER(maj, min, mic) (((uint32_t)(maj) << 24) | ((uint32_t)(min) << 16) | ((uint32_t)(mic) << 8))

enum pyspy_flavour {
	PYSPY_FLAVOUR_RELEASE = 0,
	PYSPY_FLAVOUR_DEBUG = 1u << 0,        /* Py_DEBUG */
	PYSPY_FLAVOUR_TRACE_REFS = 1u << 1,   /* Py_TRACE_REFS: +16 on objects (<= 3.12) */
	PYSPY_FLAVOUR_FREETHREADED = 1u << 2, /* Py_GIL_DISABLED */
};

/* Where the interpreter list starts. */
enum pyspy_anchor {
	PYSPY_ANCHOR_INTERP_HEAD = 1, /* <= 3.6: *interp_head (static, .symtab only) */
	PYSPY_ANCHOR_RUNTIME = 2,     /* 3.7+: *(_PyRuntime + runtime.interpreters_head) */
};

/* How a thread's frames are chained. */
enum pyspy_frame_model {
	PYSPY_FRAMES_OBJECT = 1,  /* <= 3.10: tstate->frame, PyFrameObject.f_back */
	PYSPY_FRAMES_CFRAME = 2,  /* 3.11-3.12: tstate->cframe->current_frame, _PyInterpreterFrame */
	PYSPY_FRAMES_CURRENT = 3, /* 3.13+: tstate->current_frame, _PyInterpreterFrame */
};

enum pyspy_line_table {
	PYSPY_LINES_LNOTAB_U8 = 1, /* <= 3.5: co_lnotab, unsigned line deltas */
	PYSPY_LINES_LNOTAB_S8 = 2, /* 3.6-3.9: co_lnotab, signed line deltas */
	PYSPY_LINES_310 = 3,       /* 3.10: co_linetable (PEP 626) */
	PYSPY_LINES_LOCATIONS = 4, /* 3.11+: co_linetable (PEP 657 location table) */
};

enum pyspy_string_model {
	PYSPY_STRINGS_BYTES = 1,  /* 2.7: PyStringObject (bytes) */
	PYSPY_STRINGS_PEP393 = 2, /* 3.3+: compact / legacy unicode */
};

/* How to find which thread holds the GIL. */
enum pyspy_gil_model {
	PYSPY_GIL_NONE = 0,
	PYSPY_GIL_CURRENT_SYMBOL = 1, /* <= 3.6: *_PyThreadState_Current == tstate */
	PYSPY_GIL_RUNTIME = 2,        /* 3.7-3.11: runtime.gil_locked / runtime.gil_last_holder */
	PYSPY_GIL_INTERP_PTR = 3,     /* 3.12+: g = *(interp + interp.ceval_gil); g.locked / g.last_holder */
};

/* Dictionaries, for thread names (threading._active). */
enum pyspy_dict_model {
	PYSPY_DICT_27 = 1,  /* ma_mask / ma_table of {hash, key, value} */
	PYSPY_DICT_36 = 2,  /* 3.6-3.10: ma_keys -> dk_size, dk_nentries, dk_indices[], entries */
	PYSPY_DICT_311 = 3, /* 3.11+: dk_log2_size, dk_log2_index_bytes, dk_kind (unicode entries) */
};

/* Where an instance's attributes live. */
enum pyspy_attr_model {
	PYSPY_ATTRS_DICTOFFSET = 1,   /* *(obj + type.tp_dictoffset) is the dict */
	PYSPY_ATTRS_MANAGED_311 = 2,  /* 3.11: dict at obj-3*ptr, else values at obj-4*ptr with keys ht_cached_keys */
	PYSPY_ATTRS_MANAGED_312 = 3,  /* 3.12: dict-or-values at obj-3*ptr (tagged values pointer) */
	PYSPY_ATTRS_INLINE_313 = 4,   /* 3.13+: dict at obj-3*ptr, else inline values at obj+tp_basicsize */
};

struct pyspy_layout {
	uint32_t size;            /* sizeof(struct pyspy_layout) of the module */
	uint32_t version_min;     /* first version covered, PYSPY_PYVER() */
	uint32_t version_max;     /* last version covered, PYSPY_PYVER(); micro 255 = all */
	uint32_t flavour;         /* enum pyspy_flavour bits */
	const char *os;           /* "linux" */
	const char *arch;         /* "x86_64" */
	const char *source;       /* the headers it was generated from */
	uint32_t tested_live;     /* 0: written from reference facts, never run here */
	uint32_t pointer_size;

	uint32_t anchor;          /* enum pyspy_anchor */
	uint32_t frame_model;     /* enum pyspy_frame_model */
	uint32_t line_table;      /* enum pyspy_line_table */
	uint32_t string_model;    /* enum pyspy_string_model */
	uint32_t gil_model;       /* enum pyspy_gil_model */
	uint32_t dict_model;      /* enum pyspy_dict_model */
	uint32_t attr_model;      /* enum pyspy_attr_model */
	uint32_t lasti_scale;     /* PyFrameObject.f_lasti * scale = byte offset (1, or 2 in 3.10) */

	struct {
		int32_t size;
		int32_t interpreters_head;
		int32_t interpreters_main;
		int32_t main_interpreter;    /* embedded main interpreter (3.11+) */
		int32_t gilstate_tstate_current; /* 3.7-3.11 */
		int32_t gil_locked;          /* 3.7-3.11: ceval.gil.locked */
		int32_t gil_last_holder;     /* 3.7-3.11: ceval.gil.last_holder */
		int32_t debug_offsets;       /* 3.13+: _Py_DebugOffsets at this offset */
	} runtime;

	struct {
		int32_t size;
		int32_t next;
		int32_t tstate_head;   /* tstate_head (<= 3.10), threads.head (3.11+) */
		int32_t id;
		int32_t modules;       /* sys.modules dict (imports.modules) */
		int32_t ceval_gil;     /* 3.12+: pointer to struct _gil_runtime_state */
		int32_t gil_locked;    /* within struct _gil_runtime_state */
		int32_t gil_last_holder;
	} interp;

	struct {
		int32_t size;
		int32_t prev;
		int32_t next;
		int32_t interp;
		int32_t frame;            /* PYSPY_FRAMES_OBJECT */
		int32_t cframe;           /* PYSPY_FRAMES_CFRAME */
		int32_t cframe_current_frame;
		int32_t current_frame;    /* PYSPY_FRAMES_CURRENT */
		int32_t thread_id;        /* pthread_t */
		int32_t native_thread_id; /* 3.11+ */
		int32_t status;           /* 3.12-3.13 bit field word */
		uint32_t status_holds_gil_mask; /* 3.13 */
		int32_t holds_gil;        /* 3.14+ int */
		int32_t state;            /* 3.13+ attached/detached */
		int32_t datastack_chunk;  /* 3.11+ */
		int32_t datastack_top;    /* 3.11+: end of the used part of the current chunk */
		int32_t base_frame;       /* 3.15+: pointer to the sentinel frame */
	} tstate;

	struct {                      /* PyFrameObject, <= 3.10 */
		int32_t back;
		int32_t code;
		int32_t lasti;
	} frame;

	struct {                      /* _PyInterpreterFrame, 3.11+ */
		int32_t size;
		int32_t previous;
		int32_t executable;       /* f_code (3.11-3.12) or f_executable */
		int32_t instr_ptr;        /* prev_instr (3.11-3.12) or instr_ptr */
		int32_t owner;            /* uint8 */
		int32_t is_entry;         /* 3.11 only, uint8 */
		int32_t tlbc_index;       /* free-threaded 3.14+ */
		uint64_t executable_tag_mask; /* _PyStackRef tag bits to clear (3 in 3.14+) */
		uint32_t owner_generator; /* FRAME_OWNED_BY_GENERATOR */
		uint32_t owner_skip_min;  /* skip frames with owner >= this (shims); 256 = none */
	} iframe;

	struct {
		int32_t size;
		int32_t filename;
		int32_t name;
		int32_t qualname;         /* 3.11+ */
		int32_t firstlineno;      /* int */
		int32_t linetable;        /* co_lnotab or co_linetable (bytes object) */
		int32_t code;             /* co_code bytes object (<= 3.10) */
		int32_t code_adaptive;    /* 3.11+: inline bytecode */
		int32_t tlbc;             /* free-threaded 3.14+ */
	} code;

	struct {
		int32_t ob_type;
		int32_t ob_size;          /* PyVarObject */
		int32_t tp_name;          /* PyTypeObject */
		int32_t tp_basicsize;
		int32_t tp_dictoffset;
		int32_t tp_flags;         /* unsigned long */
		int32_t ht_cached_keys;   /* PyHeapTypeObject */
		uint32_t managed_dict_flag;  /* Py_TPFLAGS_MANAGED_DICT, 0 if none */
		uint32_t inline_values_flag; /* Py_TPFLAGS_INLINE_VALUES, 0 if none */
	} object;

	struct {                      /* PyBytesObject, or PyStringObject in 2.7 */
		int32_t ob_size;
		int32_t ob_sval;
	} bytes;

	struct {                      /* PEP 393 */
		int32_t length;
		int32_t state;
		int32_t ascii_data;       /* sizeof(PyASCIIObject) */
		int32_t compact_data;     /* sizeof(PyCompactUnicodeObject) */
		int32_t legacy_data;      /* PyUnicodeObject.data.any */
		uint32_t kind_shift;      /* kind = (state >> kind_shift) & 7 */
		uint32_t compact_shift;
		uint32_t ascii_shift;
	} unicode;

	struct {
		int32_t ma_used;
		int32_t ma_keys;          /* 3.x */
		int32_t ma_values;        /* 3.x split table */
		int32_t ma_mask;          /* 2.7 */
		int32_t ma_table;         /* 2.7 */
		int32_t dk_size;          /* 3.6-3.10: Py_ssize_t */
		int32_t dk_log2_size;     /* 3.11+: uint8 */
		int32_t dk_log2_index_bytes; /* 3.11+: uint8 */
		int32_t dk_kind;          /* 3.11+: uint8 */
		int32_t dk_nentries;
		int32_t dk_indices;       /* start of the index table */
		int32_t entry_size;       /* {hash, key, value} */
		int32_t unicode_entry_size; /* 3.11+: {key, value} */
		int32_t values_values;    /* PyDictValues.values (3.11+) */
	} dict;

	struct {
		int32_t ob_item;
	} tuple;

	struct {                      /* thread names: ints, modules, instance attributes */
		uint32_t present;         /* 1: the generator filled this group */
		uint32_t long_tagged;     /* 1: the size word of an int is lv_tag (ndigits << 3 | sign) */
		int32_t long_size;        /* ob_size, or lv_tag */
		int32_t long_digits;      /* ob_digit */
		uint32_t long_shift;      /* bits per digit (PyLong_SHIFT) */
		int32_t int_ival;         /* 2.7 PyIntObject.ob_ival */
		int32_t module_dict;      /* PyModuleObject.md_dict */
		int32_t managed_dict;     /* MANAGED_DICT_OFFSET, from the object (negative), 3.11+ */
		int32_t managed_values;   /* 3.11: the values pointer, from the object (negative) */
		int32_t values_valid;     /* 3.13+: PyDictValues.valid (uint8) */
	} names;
	/* Members above are valid for ABI version 2.  Append only. */

	int32_t ob_refcnt;            /* PyObject.ob_refcnt (Py_ssize_t); absent when free-threaded */

	struct {                      /* _PyStackChunk, 3.11+ (the data stack of a thread) */
		int32_t size;             /* its size in bytes, header included (size_t) */
	} chunk;

	/*
	 * 3.13+: the fields of this version's _Py_DebugOffsets (at
	 * runtime.debug_offsets), one 64-bit word each after the cookie,
	 * version and free_threaded words, in table order, comma-separated as
	 * "group.field"; a field that gives a member of this layout is written
	 * "group.field=member" ("thread_state.next=tstate.next").  NULL before
	 * 3.13.  The core reads a newer minor without a module of its own with
	 * the list of the nearest older one, and accepts it only if it checks.
	 */
	const char *debug_fields;
	/* Members above are valid for ABI version 2 (since the layouts of
	 * CPython facts moved out of the core).  Append only. */

	struct {                      /* dump --locals: a frame's variables and their values */
		uint32_t present;         /* 1: the generator filled this group */
		int32_t frame_localsplus; /* PyFrameObject.f_localsplus (<= 3.10) */
		int32_t iframe_localsplus; /* _PyInterpreterFrame.localsplus (3.11+) */
		uint64_t localsplus_tag_mask; /* _PyStackRef tag bits to clear (3.14+), else 0 */
		int32_t co_argcount;      /* int */
		int32_t co_kwonlyargcount; /* int, 3.x */
		int32_t co_nlocals;       /* int */
		int32_t co_nlocalsplus;   /* int, 3.11+ */
		int32_t co_flags;         /* int */
		int32_t co_varnames;      /* tuple of str (<= 3.10) */
		int32_t co_cellvars;      /* tuple of str (<= 3.10) */
		int32_t co_freevars;      /* tuple of str (<= 3.10) */
		int32_t co_localsplusnames; /* tuple of str (3.11+) */
		uint32_t flag_varargs;    /* CO_VARARGS */
		uint32_t flag_varkeywords; /* CO_VARKEYWORDS */
		int32_t cell_ref;         /* PyCellObject.ob_ref */
		int32_t float_fval;       /* PyFloatObject.ob_fval (double) */
		int32_t list_ob_item;     /* PyListObject.ob_item (PyObject **) */
		int32_t set_used;         /* PySetObject.used */
		int32_t set_mask;         /* PySetObject.mask */
		int32_t set_table;        /* PySetObject.table */
		int32_t set_entry_size;   /* sizeof(setentry): {key, hash} */
		int32_t set_entry_key;    /* setentry.key */
		int32_t long_digit_size;  /* sizeof(digit) */
	} locals;
	/* Members above are valid for ABI version 2 with locals.  Append only. */
};

#endif /* PYSPY_LAYOUT_H */
