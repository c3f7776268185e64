"""A process whose main thread has exited (pthread_exit) is profiled by its
PID: the map, the files and the memory are reached through a live thread,
and the surviving thread's stack is shown exactly."""
import pathlib
import subprocess

import pytest

from conftest import run_pyspy

PROG = pathlib.Path(__file__).resolve().parent / "programs" / "main_exits.py"


def lineno(text):
    """The line of PROG that holds text."""
    for i, line in enumerate(PROG.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(text)


def start(interp):
    interp.require()
    p = subprocess.Popen(interp.command(str(PROG)), env=interp.environ(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait()
        pytest.fail("%s did not start: %r %s" % (interp.name, line, p.stderr.read()))
    # the main thread is gone (a zombie) once only the survivor is left
    for _ in range(2000):
        with open("/proc/%d/stat" % p.pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        subprocess.run(["sleep", "0.01"])
    else:
        p.kill()
        pytest.fail("the main thread of %s did not exit" % interp.name)
    return p


def test_dump_main_thread_exited(interp):
    p = start(interp)
    try:
        r = run_pyspy(["dump", "--pid", p.pid])
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0].endswith(str(PROG)), r.stdout
        blocks = r.stdout.split("\n\n")
        survivor = [b for b in blocks if '"survivor"' in b.splitlines()[0]]
        assert len(survivor) == 1, r.stdout
        frames = [l.strip() for l in survivor[0].splitlines()[1:]]
        assert frames[:2] == [
            "worker_block (main_exits.py:%d)" % lineno("time.sleep(300)"),
            "worker (main_exits.py:%d)" % lineno("    worker_block()"),
        ], r.stdout
        assert frames[2].startswith("run (threading.py:"), r.stdout
    finally:
        p.kill()
        p.wait()
