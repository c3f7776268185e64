"""Layout modules (layouts/*.c) against the headers on this machine, the
verified reference numbers, the ABI header and the py-spy loader.

* Every committed module whose primary headers are here is regenerated
  (tools/genlayout) and must equal the committed file apart from its
  leading comment (which holds machine paths).  A module whose headers are
  absent is skipped, naming it.
* Key offsets are checked against the values verified live or against the
  binaries in cpython-internals.md (sections 1.2, 2.1, 6, 7.4, 11): they are
  independent of the generator.
* Every member of struct pyspy_layout is written explicitly in every file.
* `py-spy plugins` lists every module as loading.
"""
import concurrent.futures
import difflib
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run_pyspy

sys.path.insert(0, str(ROOT / "tools" / "genlayout"))
import genlayout  # noqa: E402

LAYOUTS = sorted((ROOT / "layouts").glob("*.c"))
NAMES = [p.stem for p in LAYOUTS]


def parse_module(text):
    """Members of a generated module: {"runtime.size": "1520", ...} plus
    "@name" for the module's name."""
    vals, group = {}, None
    # Adjacent string literals (debug_fields, one field a line) read as one.
    body = re.sub(r'"\n\t+"', "", genlayout.body_of(text))
    m = re.search(r"static const struct pyspy_layout layout = \{\n(.*?)\n\};", body, re.S)
    assert m, "no layout initializer"
    for line in m.group(1).splitlines():
        g = re.match(r"\t\.(\w+) = \{$", line)
        if g:
            group = g.group(1)
            continue
        if line == "\t},":
            group = None
            continue
        v = re.match(r"\t+\.(\w+) = (.*),$", line)
        assert v, f"unexpected line: {line!r}"
        vals[(group + "." if group else "") + v.group(1)] = v.group(2)
    n = re.search(r"PYSPY_KIND_LAYOUT, 0,\n\t\"([^\"]+)\",", body)
    vals["@name"] = n.group(1) if n else None
    return vals


def committed(name):
    return parse_module((ROOT / "layouts" / f"{name}.c").read_text())


@pytest.fixture(scope="session")
def regenerated():
    """Every module the generator makes from the headers here, rendered in
    memory: {name: (text, None)} or {primary include: (None, error)}."""
    def run(job):
        try:
            return job, genlayout.job_modules(job), None
        except genlayout.GenError as e:
            return job, [], str(e)

    out = {}
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for job, mods, err in pool.map(run, genlayout.plan()):
            if err:
                out[job["inc"] + " " + " ".join(job["defines"])] = (None, err)
            for m in mods:
                out[m["name"]] = (genlayout.render(m), None)
                regenerated_mods[m["name"]] = m
    return out


regenerated_mods = {}  # name -> the generator's module dict (filled by `regenerated`)


@pytest.mark.parametrize("header", sorted(p.name for p in (ROOT / "layouts").glob("debug-fields-*.h")))
def test_debug_fields_match_headers(header, regenerated):
    """Each minor's _Py_DebugOffsets field list, which its modules include,
    is what the generator makes from that minor's header."""
    texts = {}
    for name, (text, _) in regenerated.items():
        mod = regenerated_mods.get(name)
        if mod and mod.get("debug_fields"):
            minor = mod["version"][:2]
            texts[genlayout.debug_fields_header(minor)] = genlayout.render_debug_fields(
                minor, mod["debug_fields"])
    if header not in texts:
        pytest.skip(f"{header}: the headers of its version are not on this machine")
    want = genlayout.body_of((ROOT / "layouts" / header).read_text())
    assert genlayout.body_of(texts[header]) == want, f"{header} differs: run make layouts"


def test_generator_runs_on_every_header_set(regenerated):
    errors = [f"{k}: {e}" for k, (t, e) in regenerated.items() if e]
    assert not errors, "\n".join(errors)


def test_every_generated_module_is_committed(regenerated):
    missing = sorted(n for n, (t, e) in regenerated.items() if t and n not in NAMES)
    assert not missing, f"generated but not in layouts/ (run make layouts): {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_layout_matches_headers(name, regenerated):
    if name not in regenerated:
        pytest.skip(f"{name}: its headers are not on this machine "
                    f"(committed from {committed(name)['source']})")
    text, _ = regenerated[name]
    new, old = parse_module(text), committed(name)
    if new["source"] != old["source"]:
        pytest.skip(f"{name}: committed from {old['source']}, only "
                    f"{new['source']} here")
    want = genlayout.body_of((ROOT / "layouts" / f"{name}.c").read_text())
    got = genlayout.body_of(text)
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            f"layouts/{name}.c", "regenerated"))
        pytest.fail(f"{name} differs from its headers:\n{diff}")


@pytest.mark.parametrize("name", NAMES)
def test_every_member_written(name):
    vals = committed(name)
    members = [n for n, _ in genlayout.layout_members()]
    missing = [n for n in members if n not in vals]
    extra = [n for n in vals if n not in members and n != "@name"]
    assert not missing, f"{name}: members not written: {missing}"
    assert not extra, f"{name}: members not in layout.h: {extra}"
    assert vals["@name"] == name, f"module name {vals['@name']} != file name {name}"
    assert vals["size"] == "sizeof(struct pyspy_layout)"


def test_ranges_do_not_overlap():
    seen = {}
    for name in NAMES:
        v = committed(name)
        lo = tuple(int(x) for x in re.findall(r"\d+", v["version_min"]))
        hi = tuple(int(x) for x in re.findall(r"\d+", v["version_max"]))
        assert lo <= hi, name
        for other, (olo, ohi, ofl) in seen.items():
            if ofl == v["flavour"]:
                assert hi < olo or ohi < lo, f"{name} overlaps {other}"
        seen[name] = (lo, hi, v["flavour"])


# Values verified live / in the binaries (cpython-internals.md), not by the
# generator.  module -> {member: value}
REFERENCE = {
    "cpython-2.7": {
        "anchor": "PYSPY_ANCHOR_INTERP_HEAD", "line_table": "PYSPY_LINES_LNOTAB_U8",
        "string_model": "PYSPY_STRINGS_BYTES", "gil_model": "PYSPY_GIL_CURRENT_SYMBOL",
        "dict_model": "PYSPY_DICT_27",
        "interp.tstate_head": 8, "tstate.next": 0, "tstate.prev": "PYSPY_NO_OFFSET",
        "tstate.thread_id": 144, "tstate.frame": 16, "frame.back": 24, "frame.code": 32,
        "frame.lasti": 120, "code.filename": 80, "code.name": 88, "code.firstlineno": 96,
        "code.linetable": 104, "bytes.ob_size": 16, "bytes.ob_sval": 36,
    },
    "cpython-2.7-debug": {
        "flavour": "PYSPY_FLAVOUR_DEBUG | PYSPY_FLAVOUR_TRACE_REFS",
        "frame.back": 40, "frame.code": 48, "frame.lasti": 136, "code.filename": 96,
        "bytes.ob_sval": 52, "tstate.frame": 16,
    },
    "cpython-3.6": {
        "anchor": "PYSPY_ANCHOR_INTERP_HEAD", "line_table": "PYSPY_LINES_LNOTAB_S8",
        "gil_model": "PYSPY_GIL_CURRENT_SYMBOL", "dict_model": "PYSPY_DICT_36",
        "tstate.next": 8, "tstate.thread_id": 152, "tstate.frame": 24, "frame.back": 24,
        "frame.code": 32, "frame.lasti": 120, "code.filename": 96, "code.name": 104,
        "code.firstlineno": 36, "code.linetable": 112, "unicode.state": 32,
        "unicode.ascii_data": 48, "unicode.compact_data": 72,
    },
    "cpython-3.7.4-3.7.255": {
        "anchor": "PYSPY_ANCHOR_RUNTIME", "gil_model": "PYSPY_GIL_RUNTIME",
        "runtime.interpreters_head": 24, "runtime.size": 1520,
        "runtime.gilstate_tstate_current": 1480, "runtime.gil_locked": 1280,
        "runtime.gil_last_holder": 1272, "tstate.thread_id": 176, "frame.lasti": 104,
        "code.filename": 96, "code.linetable": 112,
    },
    "cpython-3.7.0-3.7.3": {"runtime.gilstate_tstate_current": 1392, "tested_live": 0},
    "cpython-3.7.4-3.7.255-debug": {
        "flavour": "PYSPY_FLAVOUR_DEBUG | PYSPY_FLAVOUR_TRACE_REFS",
        "frame.back": 40, "code.filename": 112, "unicode.state": 48,
    },
    "cpython-3.8": {
        "runtime.interpreters_head": 32, "runtime.gilstate_tstate_current": 1368,
        "runtime.gil_locked": 1168, "runtime.gil_last_holder": 1160, "tstate.thread_id": 176,
        "frame.lasti": 104, "code.filename": 104, "code.name": 112, "code.firstlineno": 40,
        "code.linetable": 120,
    },
    "cpython-3.9": {
        "runtime.interpreters_head": 32, "runtime.gilstate_tstate_current": 568,
        "runtime.gil_locked": 368, "runtime.gil_last_holder": 360, "code.linetable": 120,
        "lasti_scale": 1,
    },
    "cpython-3.10": {
        "line_table": "PYSPY_LINES_310", "lasti_scale": 2, "frame.lasti": 96,
        "code.linetable": 120, "runtime.gilstate_tstate_current": 568,
    },
    "cpython-3.11": {
        "frame_model": "PYSPY_FRAMES_CFRAME", "line_table": "PYSPY_LINES_LOCATIONS",
        "dict_model": "PYSPY_DICT_311", "attr_model": "PYSPY_ATTRS_MANAGED_311",
        "runtime.interpreters_head": 40, "runtime.main_interpreter": 58936,
        "runtime.gilstate_tstate_current": 576, "runtime.gil_locked": 376,
        "runtime.gil_last_holder": 368, "interp.tstate_head": 16, "tstate.thread_id": 152,
        "tstate.native_thread_id": 160, "tstate.cframe": 56, "tstate.cframe_current_frame": 8,
        "tstate.datastack_chunk": 296, "iframe.previous": 48, "iframe.executable": 32,
        "iframe.instr_ptr": 56, "iframe.owner": 69, "iframe.is_entry": 68,
        "iframe.owner_skip_min": 256, "code.code_adaptive": 184, "code.filename": 112,
        "code.name": 120, "code.qualname": 128, "code.firstlineno": 72, "code.linetable": 136,
    },
    "cpython-3.12": {
        "gil_model": "PYSPY_GIL_INTERP_PTR", "attr_model": "PYSPY_ATTRS_MANAGED_312",
        "runtime.main_interpreter": 76392, "interp.tstate_head": 72, "interp.id": 8,
        "interp.ceval_gil": 384, "interp.gil_locked": 16, "interp.gil_last_holder": 8,
        "tstate.thread_id": 136, "tstate.native_thread_id": 144,
        "tstate.cframe_current_frame": 0, "tstate.status": 24, "iframe.previous": 8,
        "iframe.executable": 0, "iframe.owner": 70, "iframe.owner_skip_min": 3,
        "code.code_adaptive": 192, "code.firstlineno": 68, "unicode.ascii_data": 40,
        "unicode.compact_data": 56,
    },
    "cpython-3.13": {
        "frame_model": "PYSPY_FRAMES_CURRENT", "attr_model": "PYSPY_ATTRS_INLINE_313",
        "runtime.interpreters_head": 632, "runtime.debug_offsets": 0, "runtime.size": 283320,
        "interp.size": 194968, "interp.tstate_head": 7344, "interp.next": 7264,
        "interp.id": 7272, "interp.ceval_gil": 16, "tstate.size": 304,
        "tstate.current_frame": 72, "tstate.thread_id": 152, "tstate.native_thread_id": 160,
        "tstate.status": 32, "tstate.status_holds_gil_mask": "0x20", "tstate.state": 40,
        "iframe.size": 80, "iframe.owner": 70, "iframe.instr_ptr": 56,
        "iframe.executable_tag_mask": "0x0", "iframe.owner_skip_min": 3,
        "code.code_adaptive": 200,
    },
    "cpython-3.14.5-3.14.255": {
        "runtime.interpreters_head": 808, "runtime.size": 316616,
        "runtime.main_interpreter": 90752, "interp.size": 225864, "interp.tstate_head": 7344,
        "interp.next": 7272, "interp.id": 7280, "interp.modules": 7688, "interp.ceval_gil": 16,
        "interp.gil_locked": 16, "interp.gil_last_holder": 8, "tstate.size": 832,
        "tstate.current_frame": 72, "tstate.thread_id": 152, "tstate.datastack_chunk": 232,
        "tstate.holds_gil": 36, "tstate.state": 44, "tstate.status_holds_gil_mask": "0x0",
        "iframe.size": 88, "iframe.owner": 74, "iframe.executable_tag_mask": "0x3",
        "iframe.owner_skip_min": 3, "code.code_adaptive": 208, "code.linetable": 136,
    },
    "cpython-3.14.0-3.14.4": {"interp.modules": 7664, "interp.tstate_head": 7344,
                              "tested_live": 0},
    "cpython-3.14.5-3.14.255-debug": {
        "flavour": "PYSPY_FLAVOUR_DEBUG", "runtime.size": 332632, "interp.size": 225880,
        "runtime.interpreters_head": 808, "interp.tstate_head": 7344, "iframe.owner": 74,
    },
    "cpython-3.15": {
        "runtime.interpreters_head": 936, "runtime.size": 346568,
        "runtime.main_interpreter": 120328, "interp.size": 226240, "interp.next": 7264,
        "interp.id": 7272, "interp.tstate_head": 7336, "interp.modules": 7592,
        "tstate.size": 888, "tstate.thread_id": 176, "tstate.native_thread_id": 184,
        "tstate.datastack_chunk": 256, "tstate.holds_gil": 36, "tstate.state": 48,
        "tstate.base_frame": 80, "tstate.current_frame": 72, "iframe.owner": 74,
        "iframe.executable_tag_mask": "0x3", "iframe.owner_skip_min": 3,
        "code.code_adaptive": 208, "code.firstlineno": 68,
    },
    "cpython-3.15-debug": {"runtime.size": 362592, "runtime.main_interpreter": 136336},
    # Free-threaded: header values only (cpython-internals.md 7.4, 8, 11.10).
    "cpython-3.13-ft": {
        "flavour": "PYSPY_FLAVOUR_FREETHREADED", "runtime.size": 328256,
        "runtime.interpreters_head": 632, "object.ob_type": 24, "code.filename": 128,
        "code.name": 136, "code.qualname": 144, "code.firstlineno": 84, "code.linetable": 152,
        "code.code_adaptive": 216, "iframe.owner": 70, "interp.gil_locked": 24,
        "interp.gil_last_holder": 16, "unicode.length": 32, "unicode.state": 48,
        "unicode.ascii_data": 56, "unicode.compact_data": 72, "unicode.kind_shift": 2,
        "bytes.ob_sval": 48, "tuple.ob_item": 40,
    },
    "cpython-3.14.5-3.14.255-ft": {
        "runtime.size": 365624, "interp.size": 249976, "iframe.owner": 78,
        "iframe.tlbc_index": 72, "iframe.executable_tag_mask": "0x1", "code.tlbc": 224,
        "code.code_adaptive": 232, "unicode.kind_shift": 8, "unicode.compact_shift": 11,
        "unicode.ascii_shift": 12, "tuple.ob_item": 48,
    },
    "cpython-3.15-ft": {
        "runtime.interpreters_head": 936, "interp.tstate_head": 7336, "tstate.thread_id": 176,
        "tstate.native_thread_id": 184, "tstate.state": 48, "tstate.holds_gil": 36,
        "tstate.base_frame": 80, "iframe.owner": 78, "iframe.tlbc_index": 72,
        "iframe.executable_tag_mask": "0x3", "code.tlbc": 224, "code.code_adaptive": 232,
        "code.filename": 128, "code.firstlineno": 84, "unicode.state": 48,
        "unicode.kind_shift": 8,
    },
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_layout_matches_reference(name):
    if name not in NAMES:
        pytest.fail(f"layouts/{name}.c is missing")
    vals = committed(name)
    bad = [f"{k} = {vals.get(k)} (reference {v})" for k, v in REFERENCE[name].items()
           if vals.get(k) != str(v)]
    assert not bad, f"{name}: " + "; ".join(bad)


def test_pep393_state_bits():
    for name in NAMES:
        v = committed(name)
        if v["string_model"] != "PYSPY_STRINGS_PEP393":
            continue
        if "FREETHREADED" in v["flavour"]:
            continue        # 3.14t moved the bits (cpython-internals.md 4.2): REFERENCE
        assert (v["unicode.kind_shift"], v["unicode.compact_shift"],
                v["unicode.ascii_shift"]) == ("2", "5", "6"), name


def test_plugins_lists_every_layout(pyspy):
    missing = [n for n in NAMES
               if not (ROOT / "build" / "modules" / "layouts" / f"{n}.so").exists()]
    if missing:
        pytest.fail(f"layout modules not built (run make): {missing}")
    r = run_pyspy(["plugins"])
    rows = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "layout":
            rows[f[1]] = line
    bad = []
    for n in NAMES:
        line = rows.get(n)
        if line is None:
            bad.append(f"{n}: not listed")
        elif not line.rstrip().endswith(" ok"):
            bad.append(f"{n}: {line.strip()}")
    assert not bad, "\n".join(bad) + f"\n--- py-spy plugins:\n{r.stdout}{r.stderr}"


# Run inside the target interpreter (2.7 and 3.x): follow a dict and an
# instance's attributes with ctypes, using only the layout's offsets and
# models, and compare with what Python itself says.  Prints "ok" or why not.
DICT_PROBE = r'''
import ctypes, json, sys
L = json.loads(sys.argv[1])
P = ctypes.sizeof(ctypes.c_void_p)
def u8(a): return ctypes.c_uint8.from_address(a).value
def ss(a): return ctypes.c_ssize_t.from_address(a).value
def ptr(a): return ctypes.c_void_p.from_address(a).value or 0
def dict_keys(addr):
    """ids of the keys of the dict at addr, in entry order."""
    m = L["dict_model"]
    if m == "PYSPY_DICT_27":
        table, n = ptr(addr + L["dict.ma_table"]), ss(addr + L["dict.ma_mask"]) + 1
        ks = [ptr(table + i * L["dict.entry_size"] + P) for i in range(n)]
        return [k for k in ks if k]
    keys = ptr(addr + L["dict.ma_keys"])
    n = ss(keys + L["dict.dk_nentries"])
    if m == "PYSPY_DICT_36":
        size = ss(keys + L["dict.dk_size"])
        ix = 1 if size <= 0xff else 2 if size <= 0xffff else 4 if size <= 0xffffffff else 8
        ent, esz, koff = keys + L["dict.dk_indices"] + size * ix, L["dict.entry_size"], P
    else:
        ent = keys + L["dict.dk_indices"] + (1 << u8(keys + L["dict.dk_log2_index_bytes"]))
        if u8(keys + L["dict.dk_kind"]) == 0:
            esz, koff = L["dict.entry_size"], P
        else:
            esz, koff = L["dict.unicode_entry_size"], 0
    return [ptr(ent + i * esz + koff) for i in range(n)]
d = {}
names = ["alpha", "beta", "gamma", "delta", "epsilon"]
for i, k in enumerate(names):
    d[k] = i
assert ss(id(d) + L["dict.ma_used"]) == 5, "ma_used"
got = dict_keys(id(d))
assert [k for k in got if k in set(map(id, names))] == [id(k) for k in names] or \
    L["dict_model"] == "PYSPY_DICT_27" and set(got) >= set(map(id, names)), "dict keys"
class C(object):
    pass
o = C()
o.first = "one"
o.second = "two"
tp, a, m = id(C), id(o), L["attr_model"]
def cached_values(values):
    keys = dict_keys_of_keys(ptr(tp + L["object.ht_cached_keys"]))
    return dict((k, ptr(values + L["dict.values_values"] + i * P)) for i, k in enumerate(keys))
def dict_keys_of_keys(keys):
    n = ss(keys + L["dict.dk_nentries"])
    ent = keys + L["dict.dk_indices"] + (1 << u8(keys + L["dict.dk_log2_index_bytes"]))
    return [ptr(ent + i * L["dict.unicode_entry_size"]) for i in range(n)]
if m == "PYSPY_ATTRS_DICTOFFSET":
    assert ptr(a + ss(tp + L["object.tp_dictoffset"])) == id(o.__dict__), "tp_dictoffset"
else:
    flags = ctypes.c_ulong.from_address(tp + L["object.tp_flags"]).value
    assert flags & L["object.managed_dict_flag"], "managed dict flag"
    if m == "PYSPY_ATTRS_MANAGED_311":
        assert ptr(a - 3 * P) == 0, "dict materialised"
        vals = cached_values(ptr(a - 4 * P))
    elif m == "PYSPY_ATTRS_MANAGED_312":
        v = ptr(a - 3 * P)
        assert v & 1, "values not tagged"
        vals = cached_values(v + 1)
    else:
        assert flags & L["object.inline_values_flag"], "inline values flag"
        assert ptr(a - 3 * P) == 0, "dict materialised"
        vals = cached_values(a + ss(tp + L["object.tp_basicsize"]))
    assert vals.get(id("first")) == id(o.first), "attribute first"
    assert vals.get(id("second")) == id(o.second), "attribute second"
t = (1, "x")
assert ptr(id(t) + L["tuple.ob_item"] + P) == id(t[1]), "tuple.ob_item"
# The names group (thread names): module dict, ints, managed dicts.
mod = sys.modules["os"]
assert ptr(id(mod) + L["names.module_dict"]) == id(mod.__dict__), "names.module_dict"
big = 123456789012345678
if L["names.int_ival"] >= 0:
    small = int(140737488355327)
    assert ctypes.c_long.from_address(id(small) + L["names.int_ival"]).value == small, "int_ival"
    big = long(big)
word = ss(id(big) + L["names.long_size"])
nd = word >> 3 if L["names.long_tagged"] else word
dsz = 4 if L["names.long_shift"] == 30 else 2
dig = ctypes.c_uint32 if dsz == 4 else ctypes.c_uint16
val = sum(dig.from_address(id(big) + L["names.long_digits"] + i * dsz).value
          << (L["names.long_shift"] * i) for i in range(nd))
assert val == big, "long digits"
if L["attr_model"] != "PYSPY_ATTRS_DICTOFFSET":
    p = C()
    p.x = 1
    if L["attr_model"] == "PYSPY_ATTRS_MANAGED_311":
        assert ptr(id(p) + L["names.managed_values"]) == ptr(id(p) - 4 * P) != 0, "managed_values"
    if L["attr_model"] == "PYSPY_ATTRS_INLINE_313":
        vals = id(p) + ss(tp + L["object.tp_basicsize"])
        assert u8(vals + L["names.values_valid"]) == 1, "values valid"
    dd = p.__dict__
    assert ptr(id(p) + L["names.managed_dict"]) == id(dd), "names.managed_dict"
    if L["attr_model"] == "PYSPY_ATTRS_INLINE_313":
        q = C()
        q.x = 1
        q.__dict__ = {"y": 2}     # the inline values are no longer valid
        assert u8(id(q) + ss(tp + L["object.tp_basicsize"]) + L["names.values_valid"]) == 0, \
            "values valid after a new __dict__"
sys.stdout.write("ok\n")
'''


def module_for(version, debug):
    """The module of this version whose flavour is debug (or release)."""
    for name in NAMES:
        v = committed(name)
        if ("PYSPY_FLAVOUR_DEBUG" in v["flavour"]) != debug or "FREETHREADED" in v["flavour"]:
            continue
        lo = tuple(int(x) for x in re.findall(r"\d+", v["version_min"]))
        hi = tuple(int(x) for x in re.findall(r"\d+", v["version_max"]))
        if lo <= version <= hi:
            return name
    return None


def test_dict_and_attr_fields_live(interp):
    """The dict/attribute fields (thread names) read the right things in a
    real interpreter of each version."""
    interp.require()
    r = subprocess.run(interp.argv + ["-c", "import sys; print('%d %d %d' % sys.version_info[:3]);"
                                      "print(int(hasattr(sys, 'gettotalrefcount')))"],
                       capture_output=True, text=True, timeout=30)
    *version, debug = (int(x) for x in r.stdout.split())
    version = tuple(version)
    name = module_for(version, bool(debug))
    assert name, f"no layout module covers {version} (debug={debug})"
    vals = committed(name)
    L = {}
    for k, v in vals.items():
        L[k] = -1 if v == "PYSPY_NO_OFFSET" else \
            int(v, 0) if re.fullmatch(r"-?(0x)?[0-9a-f]+", v) else v
    r = subprocess.run(interp.argv + ["-c", DICT_PROBE, json.dumps(L)],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "ok", f"{interp.name} with {name}: {r.stdout}{r.stderr}"
