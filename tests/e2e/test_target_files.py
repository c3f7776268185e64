"""The files py-spy opens on a target's behalf cannot make it wait: a FIFO
bind-mounted over the target's Python in the target's own mount namespace
(what any user can do with `unshare -Urm`; the test runs as root and uses
`unshare -m`) is not opened as a file to read, and py-spy still reads the
very file that is mapped.  Each run is bounded by a timeout: before the
fix, `dump` blocked forever in open()."""
import os
import shutil
import subprocess

import pytest

from conftest import PYSPY, run_pyspy
import interpreters

UNSHARE = shutil.which("unshare")

# The target hides its own executable (or libpython) behind a FIFO in its
# private mount namespace, then blocks in a known function.
TARGET = r"""
import os, subprocess, sys, time

def hide(path, fifo):
    subprocess.check_call(["mount", "--bind", fifo, path])

def mapped(name):
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split(None, 5)
            if len(p) == 6 and os.path.basename(p[5].strip()) == name:
                return p[5].strip()
    return None

def blocked_here():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(300)

fifo = sys.argv[1]
hidden = []
exe = os.path.realpath("/proc/self/exe")
for path in [exe] + [mapped(n) for n in sys.argv[2:]]:
    if path and path not in hidden:
        hide(path, fifo)
        hidden.append(path)
sys.stdout.write(";".join(hidden) + "\n")
blocked_here()
"""


LINES = TARGET.split("\n")
SLEEP_LINE = LINES.index("    time.sleep(300)") + 1
CALL_LINE = len(LINES) - 1 if LINES[-1] == "" else len(LINES)


def start_hidden(interp, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (bind mounts in a private mount namespace)")
    if not UNSHARE:
        pytest.skip("unshare (util-linux) not present")
    interp.require()
    fifo = tmp_path / "fifo"
    os.mkfifo(str(fifo))
    script = tmp_path / "target.py"
    script.write_text(TARGET)
    libs = [os.path.basename(interp.libpython)] if interp.libpython else []
    env = dict(os.environ)
    env.update(interp.environ())
    proc = subprocess.Popen([UNSHARE, "-m", "--propagation", "private", "--"] +
                            interp.command(str(script), str(fifo), *libs),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    hidden = proc.stdout.readline().strip()
    ready = proc.stdout.readline().strip()
    if ready != "ready":
        proc.kill()
        proc.wait()
        pytest.fail("target did not start: %r %r %s" % (hidden, ready, proc.stderr.read()))
    return proc, hidden.split(";")


def python_pid(proc):
    """The Python process: unshare execs it, so it is proc itself."""
    return proc.pid


def test_dump_fifo_over_python(heavy_interp, tmp_path):
    """The FIFO covers the executable and, if shared, libpython."""
    proc, hidden = start_hidden(heavy_interp, tmp_path)
    try:
        # the FIFO really is in the way, in the target's namespace
        for path in hidden:
            st = os.stat("/proc/%d/root%s" % (proc.pid, path))
            assert (st.st_mode & 0o170000) == 0o010000, path
        r = run_pyspy(["dump", "--pid", python_pid(proc)], timeout=60)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        frames = [l.strip() for l in lines if l.startswith((" ", "\t"))]
        assert frames[:2] == ["blocked_here (target.py:%d)" % SLEEP_LINE,
                              "<module> (target.py:%d)" % CALL_LINE], r.stdout
    finally:
        proc.kill()
        proc.wait()


def test_record_fifo_over_python_ends(tmp_path):
    interp = interpreters.by_name("debian-3.11")
    proc, hidden = start_hidden(interp, tmp_path)
    out = tmp_path / "out.txt"
    try:
        r = run_pyspy(["record", "--pid", python_pid(proc), "-d", "1", "-r", "50", "--idle",
                       "-f", "raw", "-o", out], timeout=60)
        assert r.returncode == 0, r.stderr
        text = out.read_text()
        want = "<module> (target.py:%d);blocked_here (target.py:%d) " % (CALL_LINE, SLEEP_LINE)
        assert want in text, text
    finally:
        proc.kill()
        proc.wait()
