"""The core's line-table decoder (core/linetable.c) against CPython itself.

For every interpreter, a script walks the code objects of a few stdlib
modules and of a synthetic module made to stress the tables (long jumps in
lines and offsets, lines going backwards, huge line numbers, lines without
code), recursively through co_consts, and prints for each instruction offset
the table bytes, co_firstlineno and the line the interpreter's own
PyCode_Addr2Line gives (called through ctypes).  Offsets are bytes, as the
core passes them: f_lasti before 3.10, f_lasti * 2 in 3.10, the instruction
pointer minus the code start from 3.11; one negative offset per code object
stands for a frame that has not started.  build/tests/helpers/linetable_check
(and its ASan build when present) decodes every case and must agree on all.
3.11+ is also run with PYTHONNODEBUGRANGES=1 (tables without columns: entry
code 13).
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECKERS = [ROOT / "build" / "tests" / "helpers" / "linetable_check",
            ROOT / "build-asan" / "tests" / "helpers" / "linetable_check"]

# Runs on 2.7 to 3.15: no f-strings.
WALKER = r'''
from __future__ import print_function
import binascii, ctypes, os, sys, types

v = sys.version_info
# enum pyspy_line_table (include/pyspy/layout.h)
if v < (3, 6):
    model, step = 1, 1
elif v < (3, 10):
    model, step = 2, 2
elif v < (3, 11):
    model, step = 3, 2
else:
    model, step = 4, 2

def addr2line_fn():
    cands = [ctypes.pythonapi]
    # An embedding host may hold libpython RTLD_LOCAL: open it by path.
    try:
        with open("/proc/self/maps") as f:
            for l in f:
                p = l.split()[-1]
                if "python" in os.path.basename(p) or "runtime" in os.path.basename(p):
                    cands.append(p)
    except (IOError, OSError):
        pass
    for c in cands:
        try:
            lib = c if not isinstance(c, str) else ctypes.PyDLL(c)
            fn = lib.PyCode_Addr2Line
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.py_object, ctypes.c_int]
        return fn
    raise SystemExit("PyCode_Addr2Line not found")

addr2line = addr2line_fn()

SYNTH = []
SYNTH.append("def far(a):\n    x = a\n" + "\n" * 300 + "    y = x + 1\n" + "\n" * 70000 +
             "    return y\n")
SYNTH.append("def wide(a):\n    x = (" + " + ".join(["a"] * 400) + ")\n    return x\n")
SYNTH.append("def back(a):\n    return f(a,\n" + "".join("             a%d,\n" % i for i in range(40)) +
             "             a)\n")
SYNTH.append("def loop(a):\n    t = 0\n    for i in range(a):\n        if i % 2:\n"
             "            t += i\n        else:\n            t -= 1\n    while t > 0:\n"
             "        t -= 3\n    return t\n")
SYNTH.append("def nested(a):\n    def inner(b):\n        return [c for c in b\n"
             "                if c]\n    return lambda q: inner(q)\n")
SYNTH.append("def tryer(a):\n    try:\n        a()\n    except ValueError as e:\n"
             "        return e\n    finally:\n        a = None\n    with a:\n        pass\n")
SYNTH.append("class K(object):\n    def m(self, x=1,\n          y=2):\n        return (x\n"
             "                +\n                y)\n")
SYNTH.append("def longline(a):\n    return " + "a." + ".".join(["b%d" % i for i in range(100)]) +
             "\n")
source = "\n".join(SYNTH)
# Code starting at a huge line number.
source = "\n" * 200000 + source

codes, seen = [], set()

def walk(co):
    if id(co) in seen:
        return
    seen.add(id(co))
    codes.append(co)
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            walk(c)

walk(compile(source, "synthetic.py", "exec"))
for name in sys.argv[1].split(","):
    try:
        mod = __import__(name, fromlist=["x"])
    except ImportError:
        continue
    path = getattr(mod, "__file__", None)
    if not path:
        continue
    if path.endswith((".pyc", ".pyo")):
        path = path[:-1]
    try:
        with open(path, "rb") as f:
            src = f.read()
        walk(compile(src, path, "exec"))
    except (IOError, OSError, SyntaxError):
        continue

out = []
for co in codes:
    if model <= 3 and v < (3, 10):
        table = co.co_lnotab
    else:
        table = co.co_linetable
    hx = binascii.hexlify(table).decode("ascii") or "-"
    out.append("%d %d %s -2 %d" % (model, co.co_firstlineno, hx, addr2line(co, -2)))
    head = "%d %d = " % (model, co.co_firstlineno)
    for addr in range(0, len(co.co_code), step):
        out.append(head + "%d %d" % (addr, addr2line(co, addr)))
sys.stdout.write("\n".join(out) + "\n")
sys.stderr.write("code objects: %d\n" % len(codes))
'''

MODULES = "os,posixpath,textwrap,argparse,json.decoder,json.encoder,string,dis"


def run_walker(interp, tmp_path, extra_env=None):
    script = tmp_path / "walk_code.py"
    script.write_text(WALKER)
    env = interp.environ()
    env.update(extra_env or {})
    r = subprocess.run(interp.command(script, MODULES), capture_output=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r.stdout


def check(cases):
    checkers = [c for c in CHECKERS if c.exists()]
    if not checkers:
        pytest.fail("build/tests/helpers/linetable_check is not built: run make unit")
    ncases = cases.count(b"\n")
    for checker in checkers:
        r = subprocess.run([str(checker)], input=cases, capture_output=True, timeout=300,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, f"{checker}:\n{out[-4000:]}\n{r.stderr.decode(errors='replace')[-2000:]}"
        assert f"checked {ncases} mismatches 0" in out, out[-2000:]


def test_linetables_match_cpython(interp, tmp_path):
    interp.require()
    cases = run_walker(interp, tmp_path)
    # Enough cases to mean something: the synthetic module alone has hundreds.
    assert cases.count(b"\n") > 1000
    check(cases)
    if interp.version and interp.version >= (3, 11):
        plain = run_walker(interp, tmp_path, {"PYTHONNODEBUGRANGES": "1"})
        assert plain != cases
        check(plain)
