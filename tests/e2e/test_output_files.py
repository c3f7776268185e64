"""How `py-spy record` writes its files: a run that fails leaves every file
that was there as it was, a device or FIFO is written in place and never
removed, a link another user planted is refused, a link the user made is
written through, new files get 0644 less the umask (0600 as root in a
folder others can write to), and two outputs on one file are refused
whatever their spelling.
"""
import json
import os
import pathlib
import shutil
import stat
import subprocess
import tempfile
import threading

import pytest

from test_errors import unused_pid  # tests/e2e is on sys.path (conftest.py)

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYSPY = ROOT / "build" / "py-spy"
DEBIAN_PY = "/usr/bin/python3.11"
NOBODY = 65534
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
SHORT = "import time\ndef work():\n    t = time.time()\n    while time.time() - t < 0.5:\n        pass\nwork()\n"


def run(args, cwd=None, umask=None, timeout=60):
    def pre():
        if umask is not None:
            os.umask(umask)
    return subprocess.run([str(PYSPY)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, preexec_fn=pre)


def record_short(out_args, **kw):
    return run(["record", "-r", "200"] + out_args + ["--", DEBIAN_PY, "-c", SHORT], **kw)


def leftovers(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir() if p.name.startswith("."))


def test_failed_run_keeps_the_existing_file(pyspy, tmp_path):
    target = tmp_path / "k.svg"
    target.write_text("precious\n")
    r = run(["record", "-o", target, "--pid", unused_pid()])
    assert r.returncode != 0
    assert "no such process" in r.stderr
    assert target.read_text() == "precious\n"
    assert leftovers(tmp_path) == []


@pytest.fixture
def dev_null():
    """/dev/null, put back as the device if a broken build removed it."""
    before = os.stat("/dev/null")
    yield before
    if not stat.S_ISCHR(os.lstat("/dev/null").st_mode) and os.geteuid() == 0:
        os.unlink("/dev/null")
        os.mknod("/dev/null", 0o666 | stat.S_IFCHR, before.st_rdev)
        os.chmod("/dev/null", 0o666)


def test_failed_run_keeps_dev_null(pyspy, dev_null):
    r = run(["record", "-o", "/dev/null", "--pid", unused_pid()])
    assert r.returncode != 0
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == dev_null.st_rdev


def test_device_is_written_in_place(pyspy, tmp_path, dev_null):
    r = record_short(["-o", "/dev/null"])
    assert r.returncode == 0, r.stderr
    assert "Wrote flamegraph data to '/dev/null'" in r.stderr
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_fifo_is_written_once_and_kept(pyspy, tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    got = []

    def reader():
        with open(fifo, "r") as f:
            got.append(f.read())
    t = threading.Thread(target=reader)
    t.start()
    r = record_short(["-o", "raw:%s" % fifo])
    t.join(30)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert ";work (<string>:4)" in got[0] or ";work (<string>:3)" in got[0], got[0][:500]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("folder_mode,want", [
    (0o755, 0o644),
    # as root in a folder others can write to, only root may read it
    (0o1777, 0o600 if os.geteuid() == 0 else 0o644),
])
def test_new_file_mode_ignores_a_zero_umask(pyspy, tmp_path, folder_mode, want):
    os.chmod(tmp_path, folder_mode)
    out = tmp_path / "p.svg"
    r = record_short(["-o", out], umask=0)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == want
    assert out.read_text().startswith("<?xml")
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to plant another user's link")
def test_link_planted_by_another_user_is_refused(pyspy, tmp_path):
    os.chmod(tmp_path, 0o1777)
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    for name, dest in (("k.svg", victim), ("dangling.svg", tmp_path / "nothing-yet")):
        link = tmp_path / name
        os.symlink(dest, link)
        os.lchown(link, NOBODY, NOBODY)
        r = record_short(["-o", link])
        assert r.returncode != 0
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, r.stderr
        assert "symbolic link owned by another user (uid %d)" % NOBODY in lines[0], lines[0]
        assert os.path.islink(link)
    assert victim.read_text() == "root's file\n"
    assert not (tmp_path / "nothing-yet").exists()
    assert leftovers(tmp_path) == []


def test_own_link_is_written_through(pyspy, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "p.svg").write_text("old\n")
    link = tmp_path / "p.svg"
    os.symlink("real/p.svg", link)
    r = record_short(["-o", link])
    assert r.returncode == 0, r.stderr
    assert os.path.islink(link) and os.readlink(link) == "real/p.svg"
    assert (real / "p.svg").read_text().startswith("<?xml")
    assert leftovers(tmp_path) == [] and leftovers(real) == []


def test_two_outputs_on_one_file_are_refused(pyspy, tmp_path):
    (tmp_path / "sub").mkdir()
    for args in (["-o", "a.svg", "-o", "speedscope:./a.svg"],
                 ["-o", "a.svg", "-o", "speedscope:sub/../a.svg"]):
        r = record_short(args, cwd=tmp_path)
        assert r.returncode != 0
        assert "two outputs write to one file" in r.stderr, r.stderr
        assert not (tmp_path / "a.svg").exists()
    # an existing file reached through a link of the user's own
    (tmp_path / "b.svg").write_text("old\n")
    os.symlink("b.svg", tmp_path / "c.svg")
    r = record_short(["-o", "b.svg", "-o", "speedscope:c.svg"], cwd=tmp_path)
    assert r.returncode != 0 and "two outputs write to one file" in r.stderr, r.stderr
    assert (tmp_path / "b.svg").read_text() == "old\n"


def test_folder_is_refused_before_anything_starts(pyspy, tmp_path):
    r = run(["record", "-o", tmp_path, "--pid", unused_pid()])
    assert r.returncode != 0
    assert "cannot write '%s': it is a folder" % tmp_path in r.stderr, r.stderr


@pytest.mark.parametrize("fmt,name", [("flamegraph", "p.svg"), ("speedscope", "p.json"),
                                      ("raw", "p.txt")])
def test_program_that_ends_before_its_first_sample(pyspy, tmp_path, fmt, name):
    """`true` ends before py-spy can read it: one line says so, and the file
    asked for is still written, empty but valid (the choice: a script that
    runs py-spy finds its file), exit 0."""
    out = tmp_path / name
    r = run(["record", "-f", fmt, "-o", out, "--", "true"])
    assert r.returncode == 0, r.stderr
    assert "true ended before its first sample" in r.stderr, r.stderr
    assert "Error:" not in r.stderr and "has exited" not in r.stderr, r.stderr
    assert "Samples: 0 Errors: 0" in r.stderr
    text = out.read_text()
    if fmt == "flamegraph":
        assert text.startswith("<?xml") and "No samples were recorded" in text
    elif fmt == "speedscope":
        doc = json.loads(text)
        assert doc["profiles"] == [] and doc["shared"]["frames"] == []
    else:
        assert text == ""


def test_python_that_ends_at_once_still_gets_its_profile(pyspy, tmp_path):
    """python -c pass: sampled or not (it may end before the first sample),
    the profile is written and py-spy exits 0."""
    out = tmp_path / "p.svg"
    r = run(["record", "-o", out, "--", DEBIAN_PY, "-S", "-I", "-c", "pass"])
    assert r.returncode == 0, r.stderr
    assert out.read_text().startswith("<?xml")
    assert ("ended before its first sample" in r.stderr) != ("Stopped sampling because" in r.stderr)


@pytest.fixture
def sticky_dir():
    """A fresh folder like /tmp (1777) that user nobody can reach."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="pyspy-sticky-", dir="/tmp"))
    d.chmod(0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(args):
    return subprocess.run([SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                           "--clear-groups", str(PYSPY)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run py-spy as another user")
def test_unprivileged_user_in_a_sticky_folder(pyspy, sticky_dir):
    # a link nobody made to nobody's own file: written through, kept
    mine, link = sticky_dir / "mine.svg", sticky_dir / "link.svg"
    mine.write_text("old\n")
    os.chown(mine, NOBODY, NOBODY)
    os.symlink(mine, link)
    os.lchown(link, NOBODY, NOBODY)
    r = as_nobody(["record", "-r", "200", "-o", link, "--", DEBIAN_PY, "-c", SHORT])
    assert r.returncode == 0, r.stderr
    assert os.path.islink(link) and mine.read_text().startswith("<?xml")
    assert os.stat(mine).st_uid == NOBODY
    # root's file there cannot be replaced by nobody: said before anything starts
    roots = sticky_dir / "roots.svg"
    roots.write_text("root's\n")
    r = as_nobody(["record", "-o", roots, "--pid", unused_pid()])
    assert r.returncode != 0
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "it belongs to another user and the folder is sticky" in lines[0], r.stderr
    assert roots.read_text() == "root's\n"
    assert leftovers(sticky_dir) == []
