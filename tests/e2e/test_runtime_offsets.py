"""CPython 3.13+ describes its own layout (_Py_DebugOffsets): with the
layout modules of the target's minor version deleted, `py-spy dump` still
reads it, borrowing the nearest lower module for what the table lacks, and
says so in one notice line.  The frames must equal those read with the full
set of modules."""
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


def config_without(tmp_path, minor):
    """A plugins.ini like the build's, without the layouts of `minor`."""
    mods = tmp_path / "modules"
    (mods / "layouts").mkdir(parents=True)
    for sub in ("backends", "outputs"):
        shutil.copytree(BUILD / "modules" / sub, mods / sub)
    removed = 0
    for so in (BUILD / "modules" / "layouts").glob("*.so"):
        if so.name.startswith("cpython-%s" % minor):
            removed += 1
            continue
        shutil.copy2(so, mods / "layouts" / so.name)
    assert removed, "no layout module of %s to remove" % minor
    ini = tmp_path / "plugins.ini"
    ini.write_text((BUILD / "plugins.ini").read_text())
    ini.chmod(0o644)
    return ini


def frames_of(text):
    """Thread headers without names, and frame lines, of a dump."""
    out = []
    for line in text.splitlines():
        if line.startswith("Thread "):
            out.append(re.sub(r': ".*"$', "", line.split(" (")[0]))
        elif line.startswith("    "):
            out.append(line.strip())
    return out


@pytest.mark.parametrize("name,minor", [("pyenv-3.13.0", "3.13"), ("sid-3.14", "3.14"),
                                        ("sid-3.15", "3.15")])
def test_dump_without_the_minors_module(tmp_path, name, minor):
    interp = interpreters.by_name(name).require()
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    proc = subprocess.Popen(interp.command(str(script)), env=interp.environ(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        full = subprocess.run([str(PYSPY), "dump", "--pid", str(proc.pid)], capture_output=True,
                              text=True, timeout=60)
        assert full.returncode == 0, full.stderr
        ini = config_without(tmp_path, minor)
        borrowed = subprocess.run([str(PYSPY), "--config", str(ini), "dump", "--pid", str(proc.pid)],
                                  capture_output=True, text=True, timeout=60)
        assert borrowed.returncode == 0, borrowed.stderr
        notes = [l for l in borrowed.stderr.splitlines() if l.strip()]
        assert len(notes) == 1, borrowed.stderr
        assert "has no layout module" in notes[0] and "_Py_DebugOffsets" in notes[0], notes[0]
        lower = re.search(r"and (cpython-[0-9.-]+\S*) for", notes[0])
        assert lower and not lower.group(1).startswith("cpython-%s" % minor), notes[0]
        assert frames_of(borrowed.stdout) == frames_of(full.stdout)
        assert "inner_wait" in borrowed.stdout and "main" in borrowed.stdout
    finally:
        proc.kill()
        proc.wait(timeout=10)
