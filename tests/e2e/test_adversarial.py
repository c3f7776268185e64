"""Smaller findings of an adversarial run (issue 10, defect 9): names with
an embedded NUL are shown whole, py-spy's own child ends with py-spy even
when py-spy is SIGKILLed, and a refusal to root says why rather than "run
py-spy as root"."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PYSPY, run_pyspy

SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"

NUL_NAMES = r"""
import sys, threading, time

def blocked():
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    time.sleep(300)

blocked.__code__ = blocked.__code__.replace(co_name="bl\0cked")
threading.current_thread().name = "main\0thread"
blocked()
"""


def start_ready(cmd, **kw):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait()
        pytest.fail("target did not start: %r %s" % (line, p.stderr.read()))
    return p


def test_nul_in_names(heavy_interp, tmp_path):
    heavy_interp.require()
    script = tmp_path / "nul.py"
    script.write_text(NUL_NAMES)
    p = start_ready(heavy_interp.command(str(script)), env=heavy_interp.environ())
    try:
        r = run_pyspy(["dump", "--pid", p.pid])
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        thread = [l for l in lines if l.startswith("Thread ")]
        assert len(thread) == 1 and thread[0].endswith(': "main\\x00thread"'), r.stdout
        frames = [l.strip() for l in lines if l.startswith((" ", "\t"))]
        assert frames[0] == "bl\\x00cked (nul.py:7)", r.stdout
        assert frames[1] == "<module> (nul.py:11)", r.stdout
    finally:
        p.kill()
        p.wait()


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_child_ends_with_pyspy_sigkill(tmp_path):
    """record -- PROG: SIGKILL of py-spy leaves no orphan running PROG."""
    marker = tmp_path / "started"
    prog = "import time; open(%r, 'w').close(); time.sleep(300)" % str(marker)
    r = subprocess.Popen([str(PYSPY), "record", "-o", str(tmp_path / "o.txt"), "-f", "raw",
                          "--", "/usr/bin/python3.11", "-c", prog],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        for _ in range(600):        # the program's own signal: it has started
            kids = children_of(r.pid)
            if marker.exists() and kids:
                child = kids[0]
                break
            time.sleep(0.05)
        assert child, "the program did not start"
        r.send_signal(signal.SIGKILL)
        r.wait()
        for _ in range(600):        # the kernel kills it when py-spy dies
            if gone(child):
                break
            time.sleep(0.05)
        assert gone(child), "py-spy's child %d outlived py-spy" % child
    finally:
        if r.poll() is None:
            r.kill()
            r.wait()
        if child and not gone(child):
            os.kill(child, signal.SIGKILL)


def test_root_without_ptrace_is_told_why(tmp_path):
    """As root without CAP_SYS_PTRACE: not "run py-spy as root"."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.access(SETPRIV, os.X_OK):
        pytest.skip("setpriv (util-linux) not present")
    p = start_ready(["/usr/bin/python3.11", "-c",
                     "import sys, time; print('ready', flush=True); time.sleep(300)"])
    try:
        r = subprocess.run([SETPRIV, "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace",
                            str(PYSPY), "dump", "--pid", str(p.pid)],
                           capture_output=True, text=True, timeout=60)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode != 0 and len(lines) == 1 and r.stdout == "", r.stderr
        msg = lines[0]
        assert "run py-spy as root" not in msg, msg
        assert "py-spy runs as root but without the SYS_PTRACE capability" in msg, msg
        assert "--cap-add SYS_PTRACE" in msg and str(p.pid) in msg, msg
    finally:
        p.kill()
        p.wait()


def test_pid_1_as_root():
    """Whatever PID 1 is, root is told the true reason it cannot be read."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    r = run_pyspy(["dump", "--pid", "1"])
    if r.returncode == 0:
        assert "Python v" in r.stdout, r.stdout    # a container whose init is Python
        return
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert "run py-spy as root" not in lines[0], lines[0]
    assert "process 1 " in lines[0], lines[0]
