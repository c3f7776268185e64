"""A target that executes a new program (same PID): py-spy finds the new
interpreter and says so in one line; if the new program is not Python it
says that once and ends, with what it recorded written out."""
import pathlib
import re

import pytest

from conftest import run_pyspy
import interpreters

PROG = pathlib.Path(__file__).resolve().parent / "programs" / "exec_into.py"
AFTER = ("import time\n"
         "def after_exec():\n"
         "    t = time.process_time()\n"
         "    while time.process_time() - t < 2.0:\n"
         "        pass\n"
         "after_exec()\n")


CALL = "<module> (exec_into.py:%d);before_exec (exec_into.py:" % next(
    i for i, l in enumerate(PROG.read_text().splitlines(), 1) if l == "before_exec()")


def parse_raw(text):
    counts = {}
    for line in text.splitlines():
        stack, n = line.rsplit(" ", 1)
        counts[stack] = counts.get(stack, 0) + int(n)
    return counts


@pytest.mark.parametrize("first,then", [("pyenv-3.9.18", "debian-3.11"),
                                        ("debian-3.11", "pyenv-3.9.18")])
def test_exec_into_another_python(tmp_path, first, then):
    a, b = interpreters.by_name(first), interpreters.by_name(then)
    a.require()
    b.require()
    out = tmp_path / "exec.txt"
    r = run_pyspy(["record", "-f", "raw", "-o", out, "-r", "50", "--"] +
                  a.command(str(PROG), *b.command("-c", AFTER)), timeout=120,
                  env=dict(a.environ(), **b.environ()))
    assert r.returncode == 0, r.stderr
    notices = re.findall(r"executed a new program: found Python (\S+) again", r.stderr)
    assert len(notices) == 1, r.stderr
    assert notices[0].startswith("%d.%d." % b.version), r.stderr
    assert "Stopped sampling because process exited" in r.stderr, r.stderr
    counts = parse_raw(out.read_text())
    before = sum(n for s, n in counts.items()
                 if s.startswith(CALL))
    after = sum(n for s, n in counts.items()
                if s.startswith("<module> (<string>:6);after_exec (<string>:"))
    assert before > 0 and after > 0, counts
    # py-spy's own count: the samples that failed while the program changed
    # are few beside those taken of the new program
    failed = int(re.search(r"Failed samples: (\d+)", r.stderr).group(1))
    assert failed < after, r.stderr


def test_exec_into_not_python(tmp_path):
    a = interpreters.by_name("debian-3.11")
    a.require()
    out = tmp_path / "exec.txt"
    r = run_pyspy(["record", "-f", "raw", "-o", out, "-r", "50", "--"] +
                  a.command(str(PROG), "/bin/sleep", "100"), timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    said = [l for l in lines if "is not a Python program" in l]
    assert len(said) == 1 and "(sleep)" in said[0], r.stderr
    assert "Stopped sampling because the process executed a program that is not Python" \
        in r.stderr, r.stderr
    counts = parse_raw(out.read_text())
    assert any(s.startswith(CALL)
               for s in counts), counts
