"""CPython 3.13+ describes its own layout (_Py_DebugOffsets).  With the
layout module of the target's version deleted, `py-spy dump` reads the
target's table with the field list of the nearest older module, only where
that checks:

* a patch release past every module's range (3.14.10 with only
  cpython-3.14.0-3.14.4 left) is read, with one notice line, and its frames
  equal those read with the full set of modules;
* a minor whose table was laid out differently (3.14 and 3.15 inserted
  fields in the middle) or with no older list at all (3.13) is refused in
  one line that says how to add a module.
"""
import pathlib
import re
import shutil
import subprocess
import time

import pytest

import interpreters

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
PYSPY = BUILD / "py-spy"

TARGET = """
import sys, threading, time
def inner_wait(ev):
    ev.wait()
def worker(ev):
    inner_wait(ev)
ev = threading.Event()
t = threading.Thread(target=worker, args=(ev,), name="worker-1")
t.start()
def main():
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    time.sleep(300)
main()
"""


def config_without(tmp_path, prefix):
    """A plugins.ini like the build's, without the layouts named prefix*."""
    mods = tmp_path / "modules"
    (mods / "layouts").mkdir(parents=True)
    for sub in ("backends", "outputs"):
        shutil.copytree(BUILD / "modules" / sub, mods / sub)
    removed = 0
    for so in (BUILD / "modules" / "layouts").glob("*.so"):
        if so.name.startswith(prefix):
            removed += 1
            continue
        shutil.copy2(so, mods / "layouts" / so.name)
    assert removed, "no layout module %s* to remove" % prefix
    ini = tmp_path / "plugins.ini"
    ini.write_text((BUILD / "plugins.ini").read_text())
    ini.chmod(0o644)
    return ini


def start(interp, tmp_path):
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    proc = subprocess.Popen(interp.command(str(script)), env=interp.environ(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def frames_of(text):
    """Thread headers without names, and frame lines, of a dump."""
    out = []
    for line in text.splitlines():
        if line.startswith("Thread "):
            out.append(re.sub(r': ".*"$', "", line.split(" (")[0]))
        elif line.startswith("    "):
            out.append(line.strip())
    return out


def test_patch_release_read_through_its_own_table(tmp_path):
    interp = interpreters.by_name("sid-3.14").require()
    proc = start(interp, tmp_path)
    try:
        time.sleep(0.3)
        full = subprocess.run([str(PYSPY), "dump", "--pid", str(proc.pid)], capture_output=True,
                              text=True, timeout=60)
        assert full.returncode == 0, full.stderr
        ini = config_without(tmp_path, "cpython-3.14.5-3.14.255")
        borrowed = subprocess.run([str(PYSPY), "--config", str(ini), "dump", "--pid", str(proc.pid)],
                                  capture_output=True, text=True, timeout=60)
        assert borrowed.returncode == 0, borrowed.stderr
        notes = [l for l in borrowed.stderr.splitlines() if l.strip()]
        assert len(notes) == 1, borrowed.stderr
        assert "has no layout module" in notes[0] and "_Py_DebugOffsets" in notes[0], notes[0]
        assert "field list of cpython-3.14.0-3.14.4" in notes[0], notes[0]
        assert frames_of(borrowed.stdout) == frames_of(full.stdout)
        assert "inner_wait" in borrowed.stdout and "main" in borrowed.stdout
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.parametrize("name,prefix,older", [("pyenv-3.13.0", "cpython-3.13", None),
                                               ("sid-3.14", "cpython-3.14", "cpython-3.13"),
                                               ("sid-3.15", "cpython-3.15", "cpython-3.14")])
def test_minor_whose_table_does_not_check_is_refused(tmp_path, name, prefix, older):
    interp = interpreters.by_name(name).require()
    proc = start(interp, tmp_path)
    try:
        ini = config_without(tmp_path, prefix)
        r = subprocess.run([str(PYSPY), "--config", str(ini), "dump", "--pid", str(proc.pid)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0, r.stdout
        err = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(err) == 1, r.stderr
        assert "has no layout module" in err[0], err[0]
        if older:
            assert "_Py_DebugOffsets" in err[0] and older in err[0], err[0]
            assert "make layouts" in err[0], err[0]
        else:
            assert "adding-a-python-version" in err[0], err[0]
    finally:
        proc.kill()
        proc.wait(timeout=10)
