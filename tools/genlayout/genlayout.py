#!/usr/bin/env python3
"""Generate py-spy layout modules (layouts/*.c) from CPython headers.

For one set of headers, compile tools/genlayout/probe.c against them, run
it, decide the models from what the headers contain, and write the layout
module source.  Every member of struct pyspy_layout (read from
include/pyspy/layout.h) is written explicitly; a member the generator does
not know is an error, so a new ABI member cannot be forgotten.

  genlayout.py --include DIR [-DNAME[=VAL] ...] [--label TEXT] [--tested-live]
               [--check DIR ...] [--derive] [--out DIR]
  genlayout.py --all [--out DIR] [--list]     (what `make layouts` runs)

--check DIR  another header set of the same minor version and flavour: every
             member must agree except the struct sizes (recorded in the
             comment); a disagreement means the minor needs two modules.
--derive     also write the module of the sibling patch range that has no
             headers here (3.7.0-3.7.3, 3.14.0-3.14.4) from the documented
             differences (PATCH_DERIVATIONS), with tested_live = 0.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROBE = os.path.join(HERE, "probe.c")
LAYOUT_H = os.path.join(ROOT, "include", "pyspy", "layout.h")

NO = "PYSPY_NO_OFFSET"

# Minor versions whose layout changed inside the minor: the patch ranges,
# cpython-internals.md section 6.4.
PATCH_SPLITS = {
    (3, 7): [(0, 3), (4, 255)],
    (3, 14): [(0, 4), (5, 255)],
}

# How the patch range without headers here differs from its generated
# neighbour, from the reference facts (cpython-internals.md 5 and 6.4).
# Each entry: (member, change) where change is an int delta or NO.
PATCH_DERIVATIONS = {
    ((3, 7), (0, 3)): {
        "from": (4, 255),
        "why": [
            "3.7.0-3.7.3: _PyRuntime.gilstate sat 88 bytes lower (1384, not 1472),",
            "so gilstate.tstate_current is 1392, not 1480 (cpython-internals.md 5",
            "and 6.4: py-spy's table and pyroscope's DWARF dump agree).  Where the",
            "88 bytes were inserted is not documented, so the ceval GIL fields are",
            "left out (the GIL holder comes from gilstate.tstate_current) and",
            "sizeof(_PyRuntimeState) is taken as 88 bytes smaller.",
        ],
        "changes": [
            ("runtime.gilstate_tstate_current", -88),
            ("runtime.size", -88),
            ("runtime.gil_locked", NO),
            ("runtime.gil_last_holder", NO),
        ],
    },
    ((3, 14), (0, 4)): {
        "from": (5, 255),
        "why": [
            "3.14.0-3.14.4: struct _gc_runtime_state inside PyInterpreterState",
            "(from +7408) was 24 bytes smaller, so imports.modules was 7664, not",
            "7688 (py-spy's 3.14.0 bindings; cpython-internals.md 6.4).",
            "interp->threads.head and interp->ceval.gil lie before it and are",
            "unchanged; the sizes of PyInterpreterState and _PyRuntimeState (which",
            "embeds the main interpreter) are taken as 24 bytes smaller [inferred].",
        ],
        "changes": [
            ("interp.modules", -24),
            ("interp.size", -24),
            ("runtime.size", -24),
        ],
    },
}

# Members that may differ between the patch releases of one module: only
# whole-struct sizes (cpython-internals.md 6.4: 3.13.0 vs 3.13.18).  The
# module keeps the values of its primary (earliest) headers.
SIZE_MEMBERS = {"runtime.size", "interp.size", "tstate.size"}

# Offsets known to move between the patch releases of one minor, for which
# no patch boundary is known: written as PYSPY_NO_OFFSET (not needed for the
# walk).  3.13.0 -> 3.13.18: _PyRuntimeState grew by 88 bytes before the
# embedded main interpreter, 88352 -> 88424 (cpython-internals.md 6.4).
PATCH_VARIABLE = {
    (3, 13): {"runtime.main_interpreter"},
}


class GenError(Exception):
    pass


# The _Py_DebugOffsets fields (3.13+) that give a member of struct
# pyspy_layout: the layout's debug_fields says so ("group.field=member"),
# so that the core, which knows no CPython field names, can read a newer
# minor's table with the list of the nearest older one.
DEBUG_FIELD_MEMBERS = {
    "runtime_state.size": "runtime.size",
    "runtime_state.interpreters_head": "runtime.interpreters_head",
    "interpreter_state.size": "interp.size",
    "interpreter_state.id": "interp.id",
    "interpreter_state.next": "interp.next",
    "interpreter_state.threads_head": "interp.tstate_head",
    "interpreter_state.imports_modules": "interp.modules",
    "interpreter_state.ceval_gil": "interp.ceval_gil",
    "thread_state.size": "tstate.size",
    "thread_state.prev": "tstate.prev",
    "thread_state.next": "tstate.next",
    "thread_state.interp": "tstate.interp",
    "thread_state.current_frame": "tstate.current_frame",
    "thread_state.base_frame": "tstate.base_frame",
    "thread_state.thread_id": "tstate.thread_id",
    "thread_state.native_thread_id": "tstate.native_thread_id",
    "thread_state.datastack_chunk": "tstate.datastack_chunk",
    "thread_state.holds_gil": "tstate.holds_gil",
    "interpreter_frame.size": "iframe.size",
    "interpreter_frame.previous": "iframe.previous",
    "interpreter_frame.executable": "iframe.executable",
    "interpreter_frame.instr_ptr": "iframe.instr_ptr",
    "interpreter_frame.owner": "iframe.owner",
    "code_object.size": "code.size",
    "code_object.filename": "code.filename",
    "code_object.name": "code.name",
    "code_object.qualname": "code.qualname",
    "code_object.linetable": "code.linetable",
    "code_object.firstlineno": "code.firstlineno",
    "code_object.co_code_adaptive": "code.code_adaptive",
    "pyobject.ob_type": "object.ob_type",
    "type_object.tp_name": "object.tp_name",
    "type_object.tp_flags": "object.tp_flags",
    "type_object.tp_basicsize": "object.tp_basicsize",
    "type_object.tp_dictoffset": "object.tp_dictoffset",
    "heap_type_object.ht_cached_keys": "object.ht_cached_keys",
    "dict_object.ma_keys": "dict.ma_keys",
    "dict_object.ma_values": "dict.ma_values",
    "bytes_object.ob_size": "bytes.ob_size",
    "bytes_object.ob_sval": "bytes.ob_sval",
    "tuple_object.ob_item": "tuple.ob_item",
    "unicode_object.state": "unicode.state",
    "unicode_object.length": "unicode.length",
    "unicode_object.asciiobject_size": "unicode.ascii_data",
    "unicode_object.compactunicodeobject_size": "unicode.compact_data",
}


# --- reading include/pyspy/layout.h ---------------------------------------

def layout_members(path=LAYOUT_H):
    """The members of struct pyspy_layout in order, as dotted names
    ("runtime.size"), with their C types."""
    text = open(path).read()
    m = re.search(r"struct pyspy_layout \{(.*?)\n\};", text, re.S)
    if not m:
        raise GenError(f"{path}: struct pyspy_layout not found")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    members, prefix = [], None
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("struct") and line.endswith("{"):
            prefix = "pending"
            continue
        mm = re.match(r"\}\s*(\w+);", line)
        if mm:
            name = mm.group(1)
            members = [(n.replace("<pending>", name), t) for n, t in members]
            prefix = None
            continue
        mm = re.match(r"(const char \*|u?int\d+_t)\s*(\w+);", line)
        if not mm:
            raise GenError(f"{path}: cannot parse member line: {line}")
        ctype, name = mm.group(1).strip(), mm.group(2)
        members.append((f"<pending>.{name}" if prefix else name, ctype))
    return members


# --- running the probe ------------------------------------------------------

def read_version(inc):
    path = os.path.join(inc, "patchlevel.h")
    try:
        text = open(path).read()
    except OSError as e:
        raise GenError(f"{inc}: no patchlevel.h ({e.strerror})")
    m = re.search(r'#define\s+PY_VERSION\s+"(\d+)\.(\d+)\.(\d+)', text)
    if not m:
        raise GenError(f"{path}: no PY_VERSION")
    return tuple(int(x) for x in m.groups())


def config_defines(inc):
    """The -D_Py_* flags of CONFIGURE_CFLAGS_NODIST in the build's config
    Makefile: they change structs but are not in pyconfig.h (Debian's
    --enable-experimental-jit=yes-off gives -D_Py_TIER2=3 -D_Py_JIT;
    cpython-internals.md 11.3)."""
    base = os.path.basename(os.path.normpath(inc))      # python3.14d
    m = re.match(r"python(\d+\.\d+)(\w*)$", base)
    if not m:
        return [], None
    ver, abi = m.groups()
    prefix = os.path.dirname(os.path.dirname(os.path.normpath(inc)))
    found = sorted(glob.glob(os.path.join(prefix, "lib", f"python{ver}",
                                          f"config-{ver}{abi}-*", "Makefile")) +
                   glob.glob(os.path.join(prefix, "lib", f"python{ver}",
                                          f"config-{ver}{abi}", "Makefile")))
    for mk in found:
        for line in open(mk, errors="replace"):
            if line.startswith("CONFIGURE_CFLAGS_NODIST"):
                flags = line.split("=", 1)[1].split()
                return [f for f in flags if f.startswith("-D_Py_")], mk
    return [], None


def include_flags(inc):
    flags = ["-I" + inc, "-I" + os.path.join(inc, "internal")]
    # Debian multiarch: pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>
    try:
        cfg = open(os.path.join(inc, "pyconfig.h")).read(4096)
    except OSError:
        cfg = ""
    if re.search(r"#\s*include\s*<[\w-]+-linux-gnu\w*/python", cfg):
        flags.append("-I" + os.path.dirname(os.path.normpath(inc)))
    return flags


def run_probe(inc, defines, cc=None):
    """Compile and run the probe; returns (facts dict, cflags used)."""
    cc = cc or os.environ.get("CC", "cc")
    ver = read_version(inc)
    cflags = ["-std=gnu11", "-w"]
    if ver >= (3, 7, 0):
        cflags.append("-DPy_BUILD_CORE")
    cflags += defines
    with tempfile.TemporaryDirectory(prefix="genlayout.") as tmp:
        exe = os.path.join(tmp, "probe")
        cmd = [cc] + cflags + include_flags(inc) + [PROBE, "-o", exe]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            err = "\n".join(l for l in r.stderr.splitlines() if "error" in l)[:2000]
            raise GenError(f"probe does not compile against {inc}:\n{err}")
        r = subprocess.run([exe], capture_output=True, text=True)
        if r.returncode != 0:
            raise GenError(f"probe failed against {inc}: exit {r.returncode}")
    facts = {}
    for line in r.stdout.splitlines():
        k, v = line.split(None, 1)
        facts[k] = v
    got = tuple(int(x) for x in facts["cfg.PY_VERSION"].split(".")[:3])
    if got != ver:
        raise GenError(f"{inc}: patchlevel.h says {ver}, the compiler saw {got}")
    return facts, cflags


# --- _Py_DebugOffsets (3.13+) -------------------------------------------------

def debug_offsets_header(inc):
    for rel in ("internal/pycore_debug_offsets.h", "internal/pycore_runtime.h"):
        path = os.path.join(inc, rel)
        try:
            text = open(path).read()
        except OSError:
            continue
        if "typedef struct _Py_DebugOffsets" in text:
            return path, text
    return None, None


def debug_offsets_fields(inc):
    """The fields of _Py_DebugOffsets after cookie, version and
    free_threaded, in order, as "group.field"; None before 3.13."""
    path, text = debug_offsets_header(inc)
    if not text:
        return None, None
    m = re.search(r"typedef struct _Py_DebugOffsets \{(.*?)\n\} _Py_DebugOffsets;", text, re.S)
    if not m:
        raise GenError(f"{path}: struct _Py_DebugOffsets not found")
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", m.group(1), flags=re.S)
    fields, pending, depth, top = [], [], 0, []
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith("char cookie"):
            continue
        if re.match(r"struct\s*\w*\s*\{$", line):
            depth += 1
            pending = []
            continue
        mm = re.match(r"\}\s*(\w+);$", line)
        if mm and depth == 1:
            fields += [f"{mm.group(1)}.{f}" for f in pending]
            depth = 0
            continue
        mm = re.match(r"uint64_t\s+(\w+);$", line)
        if not mm:
            raise GenError(f"{path}: cannot parse a _Py_DebugOffsets line: {line}")
        (pending if depth else top).append(mm.group(1))
    if top != ["version", "free_threaded"] or depth:
        raise GenError(f"{path}: _Py_DebugOffsets does not start with version, free_threaded")
    return fields, path


def check_debug_fields(inc, cflags, fields, cc=None):
    """Ask the compiler where each parsed field is: word i must sit at
    24 + 8 * i, or the parse above is wrong."""
    cc = cc or os.environ.get("CC", "cc")
    src = ['#include "Python.h"', '#include "internal/pycore_runtime.h"',
           "#include <stddef.h>", "#include <stdio.h>", "int main(void) {"]
    src += [f'printf("%zu\\n", offsetof(_Py_DebugOffsets, {f}));' for f in fields]
    src += ["return 0; }"]
    with tempfile.TemporaryDirectory(prefix="genlayout.") as tmp:
        c, exe = os.path.join(tmp, "dbg.c"), os.path.join(tmp, "dbg")
        open(c, "w").write("\n".join(src) + "\n")
        r = subprocess.run([cc] + cflags + include_flags(inc) + [c, "-o", exe],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise GenError(f"the _Py_DebugOffsets check does not compile against {inc}:\n"
                           + r.stderr[:2000])
        r = subprocess.run([exe], capture_output=True, text=True)
    got = [int(x) for x in r.stdout.split()]
    want = [24 + 8 * i for i in range(len(fields))]
    if got != want:
        raise GenError(f"{inc}: _Py_DebugOffsets parsed wrong (offsets {got[:8]}...)")


def debug_fields_header(minor):
    """The file, beside the modules, that holds one minor's field list:
    every module of that minor (release, debug, free-threaded, each patch
    range) includes it, since the table is fixed within a minor."""
    return f"debug-fields-{minor[0]}.{minor[1]}.h"


def render_debug_fields(minor, fields):
    """C source of a minor's field list: PYSPY_DEBUG_FIELDS, the string the
    modules put in debug_fields."""
    items = [f + ("=" + DEBUG_FIELD_MEMBERS[f] if f in DEBUG_FIELD_MEMBERS else "")
             for f in fields]
    text = ",".join(items)
    chunks, cur = [], ""
    for i, item in enumerate(items):
        piece = item + ("," if i + 1 < len(items) else "")
        if cur and len(cur) + len(piece) > 84:
            chunks.append(cur)
            cur = ""
        cur += piece
    chunks.append(cur)
    assert "".join(chunks) == text
    out = ["/*",
           f" * _Py_DebugOffsets of CPython {minor[0]}.{minor[1]}: its {len(fields)} fields after the cookie,",
           " * version and free_threaded words, in table order; \"group.field=member\" where",
           " * the field gives a member of struct pyspy_layout.",
           " * Generated by tools/genlayout/genlayout.py from the version's header; do not edit.",
           " */",
           "#define PYSPY_DEBUG_FIELDS \\"]
    out += [f"\t{c_string(c)}" + (" \\" if i + 1 < len(chunks) else "")
            for i, c in enumerate(chunks)]
    return "\n".join(out) + "\n"


# --- deciding the layout ----------------------------------------------------

def num(facts, key):
    v = facts.get(key)
    return None if v is None else int(v, 0)


def off(facts, key):
    v = num(facts, key)
    return NO if v is None else v


def shift_of(mask):
    if not mask:
        raise GenError("bit field mask is 0")
    return (mask & -mask).bit_length() - 1


def flavour_of(facts):
    bits = []
    if "cfg.Py_DEBUG" in facts:
        bits.append("PYSPY_FLAVOUR_DEBUG")
    # Py_TRACE_REFS matters only where it grows the object header (<= 3.12).
    if "cfg.Py_TRACE_REFS" in facts and num(facts, "object.ob_type") > 8:
        bits.append("PYSPY_FLAVOUR_TRACE_REFS")
    if "cfg.Py_GIL_DISABLED" in facts:
        bits.append("PYSPY_FLAVOUR_FREETHREADED")
    return bits


def decide(facts):
    """Map probe facts to layout members (dotted name -> C expression or
    int).  Models come from which fields the headers have."""
    L = {}
    f = facts
    L["pointer_size"] = num(f, "cfg.pointer_size")

    L["anchor"] = "PYSPY_ANCHOR_RUNTIME" if "runtime.size" in f else "PYSPY_ANCHOR_INTERP_HEAD"

    if "tstate.frame" in f:
        L["frame_model"] = "PYSPY_FRAMES_OBJECT"
    elif "tstate.cframe" in f:
        L["frame_model"] = "PYSPY_FRAMES_CFRAME"
    elif "tstate.current_frame" in f:
        L["frame_model"] = "PYSPY_FRAMES_CURRENT"
    else:
        raise GenError("no frame chain found in PyThreadState")

    hexv = num(f, "cfg.PY_VERSION_HEX")
    if "code.co_lnotab" in f:
        # The signedness of the line deltas is not a struct property: the
        # encoding became signed in 3.6 (Objects/lnotab_notes.txt).
        L["line_table"] = ("PYSPY_LINES_LNOTAB_S8" if hexv >= 0x03060000
                           else "PYSPY_LINES_LNOTAB_U8")
        L["code.linetable"] = num(f, "code.co_lnotab")
    elif "code.co_linetable" in f and "frame.lasti" in f:
        L["line_table"] = "PYSPY_LINES_310"          # PEP 626, f_lasti in code units
        L["code.linetable"] = num(f, "code.co_linetable")
    elif "code.co_linetable" in f:
        L["line_table"] = "PYSPY_LINES_LOCATIONS"    # PEP 657, _PyInterpreterFrame
        L["code.linetable"] = num(f, "code.co_linetable")
    else:
        raise GenError("no line table in PyCodeObject")

    L["string_model"] = ("PYSPY_STRINGS_BYTES" if "has.PyStringObject" in f
                         else "PYSPY_STRINGS_PEP393")

    if "interp.ceval_gil" in f:
        L["gil_model"] = "PYSPY_GIL_INTERP_PTR"
    elif "runtime.gil_locked" in f:
        L["gil_model"] = "PYSPY_GIL_RUNTIME"
    else:
        L["gil_model"] = "PYSPY_GIL_CURRENT_SYMBOL"

    if "dict.ma_mask" in f:
        L["dict_model"] = "PYSPY_DICT_27"
    elif "dict.dk_log2_size" in f:
        L["dict_model"] = "PYSPY_DICT_311"
    elif "dict.dk_size" in f:
        L["dict_model"] = "PYSPY_DICT_36"
    else:
        raise GenError("unknown dict layout")

    if "object.inline_values_flag" in f:
        L["attr_model"] = "PYSPY_ATTRS_INLINE_313"
    elif "object.managed_dict_flag" in f and "has.Py_TPFLAGS_PREHEADER" in f:
        L["attr_model"] = "PYSPY_ATTRS_MANAGED_312"
    elif "object.managed_dict_flag" in f:
        L["attr_model"] = "PYSPY_ATTRS_MANAGED_311"
    else:
        L["attr_model"] = "PYSPY_ATTRS_DICTOFFSET"

    # f_lasti counts code units only with the 3.10 line table.
    L["lasti_scale"] = (num(f, "const.sizeof_Py_CODEUNIT")
                        if L["line_table"] == "PYSPY_LINES_310" else 1)

    for m in ("size", "interpreters_head", "interpreters_main", "main_interpreter",
              "gilstate_tstate_current", "gil_locked", "gil_last_holder", "debug_offsets"):
        L["runtime." + m] = off(f, "runtime." + m)
    for m in ("size", "next", "tstate_head", "id", "modules", "ceval_gil",
              "gil_locked", "gil_last_holder"):
        L["interp." + m] = off(f, "interp." + m)
    for m in ("size", "prev", "next", "interp", "frame", "cframe", "cframe_current_frame",
              "current_frame", "thread_id", "native_thread_id", "status", "holds_gil",
              "state", "datastack_chunk", "datastack_top", "base_frame"):
        L["tstate." + m] = off(f, "tstate." + m)
    L["tstate.status_holds_gil_mask"] = num(f, "tstate.status_holds_gil_mask") or 0

    for m in ("back", "code", "lasti"):
        L["frame." + m] = off(f, "frame." + m)

    for m in ("size", "previous", "executable", "instr_ptr", "owner", "is_entry",
              "tlbc_index"):
        L["iframe." + m] = off(f, "iframe." + m)
    L["iframe.executable_tag_mask"] = (num(f, "const.Py_TAG_BITS")
                                       if num(f, "has.executable_stackref") else 0)
    L["iframe.owner_generator"] = num(f, "const.FRAME_OWNED_BY_GENERATOR") or 0
    # Frames with owner >= the first non-code owner are shims/sentinels:
    # FRAME_OWNED_BY_CSTACK (3.12, 3.13) or FRAME_OWNED_BY_INTERPRETER (3.14+,
    # where CSTACK moved above it, then went away in 3.15).  3.11 has none.
    shims = [num(f, k) for k in ("const.FRAME_OWNED_BY_CSTACK",
                                 "const.FRAME_OWNED_BY_INTERPRETER") if k in f]
    L["iframe.owner_skip_min"] = min(shims) if shims else 256

    for m in ("size", "filename", "name", "qualname", "firstlineno", "code",
              "code_adaptive", "tlbc"):
        L["code." + m] = off(f, "code." + m)

    for m in ("ob_type", "ob_size", "tp_name", "tp_basicsize", "tp_dictoffset",
              "tp_flags", "ht_cached_keys"):
        L["object." + m] = off(f, "object." + m)
    L["object.managed_dict_flag"] = num(f, "object.managed_dict_flag") or 0
    L["object.inline_values_flag"] = num(f, "object.inline_values_flag") or 0

    L["bytes.ob_size"] = off(f, "bytes.ob_size")
    L["bytes.ob_sval"] = off(f, "bytes.ob_sval")

    for m in ("length", "state", "ascii_data", "compact_data", "legacy_data"):
        L["unicode." + m] = off(f, "unicode." + m)
    for m in ("kind", "compact", "ascii"):
        mask = num(f, f"unicode.{m}_mask")
        L[f"unicode.{m}_shift"] = shift_of(mask) if mask is not None else 0

    for m in ("ma_used", "ma_keys", "ma_values", "ma_mask", "ma_table", "dk_size",
              "dk_log2_size", "dk_log2_index_bytes", "dk_kind", "dk_nentries",
              "dk_indices", "entry_size", "unicode_entry_size", "values_values"):
        L["dict." + m] = off(f, "dict." + m)

    L["tuple.ob_item"] = off(f, "tuple.ob_item")
    L["ob_refcnt"] = off(f, "ob_refcnt")
    L["chunk.size"] = off(f, "chunk.size")

    L["names.present"] = num(f, "names.present") or 0
    L["names.long_tagged"] = num(f, "names.long_tagged") or 0
    L["names.long_shift"] = num(f, "names.long_shift") or 0
    for m in ("long_size", "long_digits", "int_ival", "module_dict", "managed_dict",
              "managed_values", "values_valid"):
        L["names." + m] = off(f, "names." + m)

    L["locals.present"] = num(f, "locals.present") or 0
    L["locals.localsplus_tag_mask"] = (num(f, "const.Py_TAG_BITS")
                                       if num(f, "has.localsplus_stackref") else 0)
    L["locals.flag_varargs"] = num(f, "locals.flag_varargs") or 0
    L["locals.flag_varkeywords"] = num(f, "locals.flag_varkeywords") or 0
    for m in ("frame_localsplus", "iframe_localsplus", "co_argcount", "co_kwonlyargcount",
              "co_nlocals", "co_nlocalsplus", "co_flags", "co_varnames", "co_cellvars",
              "co_freevars", "co_localsplusnames", "cell_ref", "float_fval",
              "list_ob_item", "set_used", "set_mask", "set_table", "set_entry_size",
              "set_entry_key", "long_digit_size"):
        L["locals." + m] = off(f, "locals." + m)
    return L


# --- naming -----------------------------------------------------------------

def patch_range(ver):
    for lo, hi in PATCH_SPLITS.get(ver[:2], [(0, 255)]):
        if lo <= ver[2] <= hi:
            return lo, hi
    raise GenError(f"{ver}: no patch range")


def module_name(minor, rng, flavour):
    maj, mi = minor
    name = f"cpython-{maj}.{mi}"
    if rng != (0, 255):
        name = f"cpython-{maj}.{mi}.{rng[0]}-{maj}.{mi}.{rng[1]}"
    if "PYSPY_FLAVOUR_DEBUG" in flavour:
        name += "-debug"
    if "PYSPY_FLAVOUR_FREETHREADED" in flavour:
        name += "-ft"
    return name


def summary(minor, rng, flavour, os_name, arch):
    maj, mi = minor
    what = f"CPython {maj}.{mi}"
    if rng != (0, 255):
        what = f"CPython {maj}.{mi}.{rng[0]}-{maj}.{mi}.{rng[1]}" if rng[1] != 255 \
            else f"CPython {maj}.{mi}.{rng[0]} and later {maj}.{mi}.x"
    kinds = []
    if "PYSPY_FLAVOUR_DEBUG" in flavour:
        kinds.append("debug")
    if "PYSPY_FLAVOUR_TRACE_REFS" in flavour:
        kinds.append("trace-refs")
    if "PYSPY_FLAVOUR_FREETHREADED" in flavour:
        kinds.append("free-threaded")
    return f"{what} ({', '.join(kinds) or 'release'}, {os_name} {arch})"


# --- writing ----------------------------------------------------------------

def c_value(name, ctype, v):
    if isinstance(v, str):
        return v
    # Masks and flag bits are unsigned members; offsets (even ma_mask) are not.
    if ctype.startswith("uint") and (name.endswith("_mask") or name.endswith("_flag")):
        return f"0x{v:x}"
    return str(v)


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(mod):
    """C source of one module; mod holds name, summary, header comment lines
    and the member values."""
    members = layout_members()
    vals = dict(mod["values"])
    missing = [n for n, _ in members if n not in vals]
    if missing:
        raise GenError("the generator does not know these members of struct "
                       "pyspy_layout (teach decide()): " + ", ".join(missing))
    out = ["/*"]
    out += [(" * " + l).rstrip() for l in mod["comment"]]
    out += [" */",
            "#include <pyspy/layout.h>",
            "#include <pyspy/module.h>",
            ""]
    if mod.get("debug_fields"):
        out += [f'#include "{debug_fields_header(mod["version"][:2])}"', ""]
    out += ["static const struct pyspy_layout layout = {"]
    group = None
    for name, ctype in members:
        g, _, leaf = name.rpartition(".")
        if g != group:
            if group:
                out.append("\t},")
            if g:
                out.append(f"\t.{g} = {{")
            group = g
        ind = "\t\t" if g else "\t"
        out.append(f"{ind}.{leaf} = {c_value(name, ctype, vals[name])},")
    if group:
        out.append("\t},")
    out += ["};",
            "",
            "PYSPY_EXPORT const struct pyspy_module pyspy_module = {",
            "\tPYSPY_ABI_VERSION, sizeof(struct pyspy_module), PYSPY_KIND_LAYOUT, 0,",
            f"\t{c_string(mod['name'])},",
            f"\t{c_string(mod['summary'])},",
            "\t&layout,",
            "};",
            ""]
    return "\n".join(out)


def body_of(text):
    """The module source without its leading comment (what tests compare)."""
    end = text.find("*/")
    return text[end + 2:] if text.startswith("/*") and end >= 0 else text


# --- one header set -> module(s) ---------------------------------------------

def build_module(inc, defines, label, tested_live, checks=(), derive=False):
    auto, mk = config_defines(inc)
    facts, cflags = run_probe(inc, auto + [d for d in defines if d not in auto])
    ver = read_version(inc)
    minor = ver[:2]
    rng = patch_range(ver)
    flavour = flavour_of(facts)
    os_name = sys.platform if sys.platform != "linux2" else "linux"
    arch = os.uname().machine
    values = decide(facts)
    dfields, dpath = debug_offsets_fields(inc)
    if dfields:
        check_debug_fields(inc, cflags, dfields)
    values["debug_fields"] = "PYSPY_DEBUG_FIELDS" if dfields else "NULL"
    for member in PATCH_VARIABLE.get(minor, ()):
        values[member] = NO
    vtxt = ".".join(map(str, ver))
    defs = " ".join(cflags[2:])
    name = module_name(minor, rng, flavour)
    values.update({
        "size": "sizeof(struct pyspy_layout)",
        "version_min": f"PYSPY_PYVER({minor[0]}, {minor[1]}, {rng[0]})",
        "version_max": f"PYSPY_PYVER({minor[0]}, {minor[1]}, {rng[1]})",
        "flavour": " | ".join(flavour) or "PYSPY_FLAVOUR_RELEASE",
        "os": c_string(os_name),
        "arch": c_string(arch),
        "source": c_string(f"{label} CPython {vtxt} headers" + (f", {defs}" if defs else "")),
        "tested_live": 1 if tested_live else 0,
    })
    comment = [
        f"{name}: {summary(minor, rng, flavour, os_name, arch)}.",
        "Generated by tools/genlayout/genlayout.py (`make layouts`); do not edit.",
        "",
        f"Headers: {inc} (CPython {vtxt}, {label})",
        " ".join(["Compiler: cc -std=gnu11", defs, "-I<headers> -I<headers>/internal"]).replace("  ", " "),
    ]
    if dfields:
        comment.append(f"_Py_DebugOffsets: {len(dfields)} fields, from {dpath}")
    if mk:
        comment.append(f"Defines from {mk} (CONFIGURE_CFLAGS_NODIST): {' '.join(auto) or '(none)'}")
    comment.append("tested_live = %d: %s" % (
        values["tested_live"],
        "the tests run this interpreter here" if tested_live
        else "no interpreter of this build is run by the tests here"))
    if PATCH_VARIABLE.get(minor):
        comment.append("Left out as they move between %d.%d patch releases (section 6.4): %s"
                       % (minor + (", ".join(sorted(PATCH_VARIABLE[minor])),)))
    for cinc, clabel, cdefs in checks:
        cmod = build_module(cinc, cdefs, clabel, tested_live)
        cver = read_version(cinc)
        if cver[:2] != minor or patch_range(cver) != rng:
            raise GenError(f"--check {cinc}: {cver} is not in {name}")
        diffs, sizes = [], []
        for k, v in values.items():
            cv = cmod["values"].get(k)
            if k in ("source", "tested_live") or cv == v:
                continue
            (sizes if k in SIZE_MEMBERS else diffs).append(f"{k} {v} vs {cv}")
        if diffs:
            raise GenError(f"{inc} and {cinc} disagree ({'; '.join(diffs)}): "
                           "this minor needs a patch split (PATCH_SPLITS)")
        cv = ".".join(map(str, cver))
        comment.append(f"Cross-checked: {cinc} (CPython {cv}, {clabel}): every member equal"
                       + (f" except sizes ({'; '.join(sizes)}; the module keeps {vtxt}'s)"
                          if sizes else ""))
    mod = {"name": name, "summary": summary(minor, rng, flavour, os_name, arch),
           "comment": comment, "values": values, "version": ver, "flavour": flavour,
           "inc": inc, "debug_fields": dfields}
    mods = [mod]
    if derive:
        mods += derived_modules(mod, minor, rng, flavour, os_name, arch)
    return mods[0] if not derive else mods


def derived_modules(mod, minor, rng, flavour, os_name, arch):
    out = []
    for (dminor, drng), d in PATCH_DERIVATIONS.items():
        if dminor != minor or d["from"] != rng:
            continue
        values = dict(mod["values"])
        for member, change in d["changes"]:
            if change == NO:
                values[member] = NO
            elif values[member] != NO:
                values[member] += change
        name = module_name(minor, drng, flavour)
        values["version_min"] = f"PYSPY_PYVER({minor[0]}, {minor[1]}, {drng[0]})"
        values["version_max"] = f"PYSPY_PYVER({minor[0]}, {minor[1]}, {drng[1]})"
        values["tested_live"] = 0
        values["source"] = c_string(f"reference facts applied to {mod['name']}")
        comment = [
            f"{name}: {summary(minor, drng, flavour, os_name, arch)}.",
            "Generated by tools/genlayout/genlayout.py (`make layouts`); do not edit.",
            "",
            f"NO HEADERS of this patch range were available: this module is the",
            f"generated {mod['name']} with only these documented changes:",
        ] + ["  " + l for l in d["why"]] + [
            "Changed members: " + ", ".join(
                f"{m} {'-> absent' if c == NO else '%+d' % c}" for m, c in d["changes"]),
            f"Base: {mod['inc']} (CPython {'.'.join(map(str, mod['version']))})",
            "tested_live = 0: never run here.",
        ]
        out.append({"name": name, "summary": summary(minor, drng, flavour, os_name, arch),
                    "comment": comment, "values": values, "version": mod["version"],
                    "flavour": flavour, "inc": mod["inc"], "debug_fields": mod["debug_fields"]})
    return out


def write_file(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fp:
        fp.write(text)
    os.replace(tmp, path)


def write_module(mod, outdir):
    """Write the module (and its minor's field list, which it includes)."""
    if mod.get("debug_fields"):
        minor = mod["version"][:2]
        write_file(os.path.join(outdir, debug_fields_header(minor)),
                   render_debug_fields(minor, mod["debug_fields"]))
    path = os.path.join(outdir, mod["name"] + ".c")
    write_file(path, render(mod))
    return path


# --- every header set on this machine ---------------------------------------

def pyenv_root():
    try:
        r = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return os.path.expanduser("~/.pyenv")


def sid_roots():
    """Unpacked Debian sid trees: $GENLAYOUT_SID_ROOT (colon-separated, in
    order), then the cache of tests/interpreters/fetch-sid.sh (--variants
    "dev dbg" brings the headers)."""
    roots = [r for r in os.environ.get("GENLAYOUT_SID_ROOT", "").split(":") if r]
    cache = os.environ.get("PYSPY_SID_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pyspy-sid")
    roots.append(os.path.join(cache, "root"))
    return roots


def header_sets():
    """Every usable header folder here: list of (inc, label, live, debug_headers)."""
    sets = []
    for inc in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "*", "include", "python*"))):
        if os.path.exists(os.path.join(inc, "patchlevel.h")):
            sets.append((inc, "pyenv", True, False))
    for inc in sorted(glob.glob("/usr/include/python[23].*")):
        if os.path.exists(os.path.join(inc, "patchlevel.h")) and not inc.endswith("d"):
            sets.append((inc, "Debian", os.path.exists("/usr/bin/" + os.path.basename(inc)), False))
    seen = set()
    for root in sid_roots():
        for inc in sorted(glob.glob(os.path.join(root, "usr", "include", "python3.*"))):
            base = os.path.basename(inc)
            if base in seen or not os.path.exists(os.path.join(inc, "patchlevel.h")):
                continue
            seen.add(base)
            # The tests run sid's python3.13, 3.14, 3.14d and 3.15 (fetch-sid.sh).
            live = base in ("python3.13", "python3.14", "python3.14d", "python3.15")
            sets.append((inc, "Debian sid", live, base.endswith("d")))
    return sets


def plan():
    """The jobs `make layouts` runs: one per module, each a dict with the
    primary header set, defines, label, tested_live, cross-checks, derive.

    Per minor version, the primary set of the release module is the pyenv
    build (the earliest patch), except 3.11 where Debian's own headers are
    used (the tests run Debian's python3.11); the other sets of that minor
    are cross-checks.  Debug modules use the release primary with
    -DPy_DEBUG (all that a debug pyconfig.h adds) and are cross-checked
    against real debug headers (sid python3.Xd) where there are any."""
    by_minor = {}
    for inc, label, live, dbg in header_sets():
        try:
            ver = read_version(inc)
        except GenError:
            continue
        by_minor.setdefault(ver[:2], []).append((ver, inc, label, live, dbg))
    jobs = []
    for minor in sorted(by_minor):
        sets = by_minor[minor]
        rel = sorted([s for s in sets if not s[4]],
                     key=lambda s: (0 if (minor == (3, 11) and s[2] == "Debian") else 1, s[0]))
        dbg = sorted([s for s in sets if s[4]], key=lambda s: s[0])
        derive = minor in PATCH_SPLITS
        if rel:
            p = rel[0]
            jobs.append({"inc": p[1], "defines": [], "label": p[2], "live": p[3],
                         "checks": [(s[1], s[2], []) for s in rel[1:]
                                    if patch_range(s[0]) == patch_range(p[0])],
                         "derive": derive})
        # The debug module: the release primary with -DPy_DEBUG (all that a
        # debug pyconfig.h adds), cross-checked against real debug headers
        # (sid python3.Xd) where there are any; those alone otherwise.
        if rel:
            p = rel[0]
            jobs.append({"inc": p[1], "defines": ["-DPy_DEBUG"], "label": p[2],
                         "live": any(s[3] and s[0] == p[0] for s in dbg),
                         "checks": [(s[1], s[2], ["-DPy_DEBUG"]) for s in rel[1:]
                                    if patch_range(s[0]) == patch_range(p[0])] +
                                   [(s[1], s[2], []) for s in dbg
                                    if patch_range(s[0]) == patch_range(p[0])],
                         "derive": derive})
        # Free-threaded (3.13+): the release primary with -DPy_GIL_DISABLED=1
        # (all that a 't' pyconfig.h adds).  No such interpreter exists here
        # (cpython-internals.md 12.4), so these are header-only, and no patch
        # range is derived for them.
        if rel and minor >= (3, 13):
            p = rel[0]
            ft = ["-DPy_GIL_DISABLED=1"]
            jobs.append({"inc": p[1], "defines": ft, "label": p[2], "live": False,
                         "checks": [(s[1], s[2], ft) for s in rel[1:]
                                    if patch_range(s[0]) == patch_range(p[0])],
                         "derive": False})
        if dbg and not rel:
            p = dbg[0]
            jobs.append({"inc": p[1], "defines": [], "label": p[2], "live": p[3],
                         "checks": [(s[1], s[2], []) for s in dbg[1:]
                                    if patch_range(s[0]) == patch_range(p[0])],
                         "derive": derive})
    return jobs


def job_modules(job):
    """The modules (dicts for render()) one job of plan() makes."""
    mods = build_module(job["inc"], job["defines"], job["label"], job["live"],
                        job["checks"], derive=True)
    return mods if job["derive"] else mods[:1]


def run_job(job, outdir):
    return [write_module(m, outdir) for m in job_modules(job)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--include", help="CPython include folder (with patchlevel.h)")
    ap.add_argument("-D", dest="defines", action="append", default=[],
                    help="extra compiler define, e.g. -DPy_DEBUG")
    ap.add_argument("--label", default="", help="where the headers come from")
    ap.add_argument("--tested-live", action="store_true")
    ap.add_argument("--check", action="append", default=[],
                    help="header folder of another patch release to cross-check")
    ap.add_argument("--derive", action="store_true")
    ap.add_argument("--all", action="store_true", help="every header set on this machine")
    ap.add_argument("--list", action="store_true", help="with --all: print the plan only")
    ap.add_argument("--out", default=os.path.join(ROOT, "layouts"))
    a = ap.parse_args(argv)
    defines = ["-D" + d for d in a.defines]
    try:
        if a.all:
            for job in plan():
                if a.list:
                    print(job["inc"], " ".join(job["defines"]), "live" if job["live"] else "",
                          " ".join("check=" + c[0] for c in job["checks"]))
                    continue
                for p in run_job(job, a.out):
                    print("wrote", os.path.relpath(p))
            return 0
        if not a.include:
            ap.error("--include or --all is required")
        mods = build_module(a.include, defines, a.label or "CPython", a.tested_live,
                            [(c, "check", defines) for c in a.check], derive=True)
        if not a.derive:
            mods = mods[:1]
        for m in mods:
            print("wrote", os.path.relpath(write_module(m, a.out)))
        return 0
    except GenError as e:
        print(f"genlayout: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
