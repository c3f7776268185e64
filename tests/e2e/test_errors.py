"""The errors of `py-spy dump`: each is one line on stderr, nothing on
stdout, and a non-zero exit.

(plugins.ini missing/broken/unsafe and module files missing/refused are in
test_plugins_config.py.)
"""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
PYSPY = BUILD / "py-spy"
DEBIAN_PY = "/usr/bin/python3.11"
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
ADDING_DOC = "docs/adding-a-python-version.md"


def pyspy_run(args, prefix=()):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return subprocess.run(list(prefix) + [str(PYSPY)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60, env=env)


def one_error_line(r):
    """The one stderr line of a failed run; fails the test otherwise."""
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode != 0, "exit 0; stdout=%r stderr=%r" % (r.stdout, r.stderr)
    assert len(lines) == 1, "wanted one line on stderr, got %d:\n%s" % (len(lines), r.stderr)
    assert r.stdout == "", "nothing on stdout wanted, got %r" % r.stdout
    return lines[0]


def start_ready(argv, **kw):
    """Start a program that prints 'ready' once it is ready to be dumped."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        proc.wait()
        pytest.fail("target %s did not start: %r %s" % (argv, line, proc.stderr.read()))
    return proc


def stop(proc):
    proc.kill()
    proc.wait(timeout=10)


SLEEPER = "import sys, time\nsys.stdout.write('ready\\n')\nsys.stdout.flush()\ntime.sleep(300)\n"


def unused_pid():
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    pytest.fail("no unused pid")


def test_no_such_pid(pyspy):
    pid = unused_pid()
    msg = one_error_line(pyspy_run(["dump", "--pid", pid]))
    assert str(pid) in msg, msg


def test_not_python(pyspy):
    proc = subprocess.Popen(["sleep", "100"])
    try:
        time.sleep(0.2)     # let it exec
        assert proc.poll() is None
        msg = one_error_line(pyspy_run(["dump", "--pid", proc.pid]))
        assert re.search(r"python", msg, re.I), msg
        assert str(proc.pid) in msg, msg
    finally:
        stop(proc)


def test_permission_denied(pyspy):
    if os.geteuid() != 0:
        pytest.skip("needs root (runs the target as nobody)")
    if not os.access(DEBIAN_PY, os.X_OK):
        pytest.skip("interpreter debian-3.11 not present (%s)" % DEBIAN_PY)
    if not os.access(SETPRIV, os.X_OK):
        pytest.skip("setpriv (util-linux) not present")
    proc = start_ready([SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        DEBIAN_PY, "-c", SLEEPER], cwd="/")
    try:
        r = pyspy_run(["dump", "--pid", proc.pid],
                      prefix=[SETPRIV, "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"])
        msg = one_error_line(r)
        assert re.search(r"permission", msg, re.I), msg
        assert re.search(r"--cap-add[ =]SYS_PTRACE", msg), msg
    finally:
        stop(proc)


def absolute_config(tmp, empty_layouts):
    """A copy of build/plugins.ini with absolute paths whose [layouts] scan
    names an empty folder (and no explicit layout)."""
    out = []
    section = None
    for line in (BUILD / "plugins.ini").read_text().splitlines():
        s = line.strip()
        if s.startswith("["):
            section = s.strip("[]").strip()
            out.append(line)
            continue
        if not s or s[0] in ";#" or "=" not in s:
            out.append(line)
            continue
        key, value = [x.strip() for x in s.split("=", 1)]
        if section == "layouts":
            if key == "scan":
                out.append("scan = %s" % empty_layouts)
            continue
        if section in ("backend", "outputs"):
            value = value if os.path.isabs(value) else str(BUILD / value)
            out.append("%s = %s" % (key, value))
            continue
        out.append(line)
    path = os.path.join(tmp, "plugins.ini")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    os.chmod(path, 0o644)
    return path


def test_no_layout_for_version(pyspy, tmp_path):
    py39 = pathlib.Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True)
                        .stdout.strip() or os.path.expanduser("~/.pyenv")) / \
        "versions" / "3.9.18" / "bin" / "python"
    if not os.access(str(py39), os.X_OK):
        pytest.skip("interpreter pyenv-3.9.18 not present (%s)" % py39)
    if not (BUILD / "plugins.ini").exists():
        pytest.fail("build/plugins.ini is not built: run make")
    empty = tmp_path / "no-layouts"
    empty.mkdir()
    config = absolute_config(str(tmp_path), str(empty))
    proc = start_ready([str(py39), "-c", SLEEPER])
    try:
        msg = one_error_line(pyspy_run(["--config", config, "dump", "--pid", proc.pid]))
        assert "3.9" in msg, msg
        assert ADDING_DOC in msg, msg
    finally:
        stop(proc)
