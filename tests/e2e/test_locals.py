"""`py-spy dump --locals` against every interpreter, compared exactly with the
program's own repr() of each of its variables.

tests/e2e/programs/locals.py stops in a function whose arguments and locals
hold every type --locals shows by value (None, bools, small, negative and big
ints, floats, str with quotes, escapes and non-ASCII text, bytes, nested
tuples, lists, dicts and sets, a cell variable, *args and **kwargs) and one it shows by type and
address (an object); it writes repr(), the type name and id() of
each, and waits.  The JSON and the text output must match it exactly, read
from the live process (every interpreter) and from a gcore core of it (the
heavy interpreters).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import ROOT, run_pyspy
from test_dump_exact import launch_argv, launch_env

PROGRAM = ROOT / "tests" / "e2e" / "programs" / "locals.py"
ARGUMENTS = ["a", "b", "args", "kwargs"]
# Shown by value; anything else is <TypeName at 0x...>.
BY_VALUE = {"NoneType", "bool", "int", "long", "float", "str", "bytes", "tuple", "list",
            "dict", "set", "frozenset"}


def start(interp, tmp):
    report = os.path.join(tmp, "view.json")
    proc = subprocess.Popen(launch_argv(interp, PROGRAM, report), env=launch_env(interp),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The program's own clock does not matter here: it reports once, then waits.
    for _ in range(400):
        if os.path.exists(report) or proc.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(report):
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"{interp.name}: the program did not report: {err.decode(errors='replace')}")
    with open(report) as f:
        return proc, json.load(f)


def expected(view):
    out = {}
    for name, rep, is_arg, tname, ident in view:
        out[name] = (rep if tname in BY_VALUE else f"<{tname} at {ident:#x}>", is_arg)
    return out


def stop(proc):
    proc.kill()
    proc.wait()


def test_locals_match_the_programs_repr(interp):
    interp.require()
    with tempfile.TemporaryDirectory() as tmp:
        proc, view = start(interp, tmp)
        try:
            js = run_pyspy(["dump", "--pid", proc.pid, "--locals", "--json"])
            text = run_pyspy(["dump", "--pid", proc.pid, "--locals"])
        finally:
            stop(proc)
    check_json(interp, js, view)
    check_text(text, view)


def check_json(interp, js, view):
    want = expected(view)
    assert js.returncode == 0, js.stderr
    frames = [fr for th in json.loads(js.stdout) for fr in th["frames"] if fr["name"] == "target"]
    assert len(frames) == 1, js.stdout
    got = frames[0]["locals"]
    names = [v["name"] for v in got]
    assert len(names) == len(set(names)), names
    # Arguments first, in their order, flagged as such.
    assert names[:4] == ARGUMENTS and all(v["arg"] for v in got[:4]), got
    assert not any(v["arg"] for v in got[4:]), got
    shown = {v["name"]: (v["repr"], v["arg"]) for v in got}
    for name, value in want.items():
        assert shown.get(name) == value, (name, shown.get(name), value)



def check_text(text, view):
    """The text output: "Arguments:" then "Locals:" under the frame, one
    "name: repr" line each, the same values."""
    want = expected(view)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    at = next(i for i, l in enumerate(lines) if re.match(r"^    target \(locals\.py:\d+\)$", l))
    assert lines[at + 1] == "        Arguments:", lines[at:at + 3]
    seen = {}
    for l in lines[at + 2:]:
        if l == "        Locals:":
            continue
        m = re.match(r"^            ([^:]+): (.*)$", l)
        if not m:
            break
        seen[m.group(1)] = m.group(2)
    for name, (rep, _) in want.items():
        assert seen.get(name) == rep, (name, seen.get(name), rep)


def test_locals_from_a_core(heavy_interp):
    """A gcore core holds the frames' locals: `dump --core --locals` shows the
    same values as the program's own repr()."""
    interp = heavy_interp.require()
    gcore = shutil.which("gcore")
    if not gcore:
        pytest.skip("gcore not installed (Debian package gdb; scripts/deps.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        proc, view = start(interp, tmp)
        try:
            r = subprocess.run([gcore, "-o", os.path.join(tmp, "core"), str(proc.pid)],
                               capture_output=True, timeout=180)
        finally:
            stop(proc)
        core = os.path.join(tmp, "core.%d" % proc.pid)
        assert r.returncode == 0 and os.path.exists(core), r.stderr.decode(errors="replace")
        js = run_pyspy(["dump", "--core", core, "--locals", "--json"])
        text = run_pyspy(["dump", "--core", core, "--locals"])
    check_json(interp, js, view)
    check_text(text, view)


def test_locals_refused_with_nonblocking(pyspy):
    r = run_pyspy(["dump", "--pid", os.getpid(), "--locals", "--nonblocking"])
    assert r.returncode != 0
    assert r.stderr.splitlines()[0] == (
        "error: --locals needs the target paused: drop --nonblocking to read locals"), r.stderr
