"""Nothing is lost silently: every one of 9,001 threads is dumped, a
10,000-deep stack whole; a stack deeper than py-spy keeps (33,792 frames)
keeps both ends, its root end included, with a marker frame counting the
frames left out, and dump and record say so on stderr."""
import pathlib
import re
import subprocess

import pytest

from conftest import run_pyspy
import interpreters

PROG = pathlib.Path(__file__).resolve().parent / "programs" / "deep_and_wide.py"
KEEP_LEAF, KEEP_ROOT = 1024, 32768


def lineno(text):
    for i, line in enumerate(PROG.read_text().splitlines(), 1):
        if text in line:
            return i
    raise AssertionError(text)


def start(interp, depth, nthreads):
    interp.require()
    p = subprocess.Popen(interp.command(str(PROG), str(depth), str(nthreads)),
                         env=interp.environ(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        p.kill()
        p.wait()
        pytest.fail("%s did not start: %r %s" % (interp.name, line, p.stderr.read()))
    return p


def threads_of(text):
    """{thread header: [frames]} of a text dump."""
    out = {}
    for block in text.split("\n\n")[1:]:
        lines = block.splitlines()
        if lines:
            out[lines[0]] = [l.strip() for l in lines[1:]]
    return out


def deep_frames(depth):
    """The deep thread's frames as dump shows them, innermost first."""
    leaf = "deep (deep_and_wide.py:%d)" % lineno("time.sleep(300)")
    mid = "deep (deep_and_wide.py:%d)" % lineno("return deep(n - 1)")
    root = ["deep_root (deep_and_wide.py:%d)" % lineno("    deep(DEPTH - 1)")]
    return [leaf] + [mid] * (depth - 2) + root


def the_deep_thread(text):
    deep = [v for k, v in threads_of(text).items() if k.endswith('"deep"')]
    assert len(deep) == 1, text[:2000]
    return deep[0]


def test_9001_threads_all_dumped():
    # One interpreter: the thread list is walked alike on every version,
    # and starting 9,000 threads is slow on a busy machine.
    p = start(interpreters.by_name("debian-3.11"), 3, 9000)
    try:
        r = run_pyspy(["dump", "--nonblocking", "--pid", p.pid], timeout=300)
        assert r.returncode == 0, r.stderr
        headers = [l for l in r.stdout.splitlines() if l.startswith("Thread ")]
        assert len(headers) == 9002, (len(headers), r.stderr)   # + main and "deep"
        # every thread has its name (threading knows them all)
        assert sum(h.endswith('"deep"') for h in headers) == 1
        assert sum(h.endswith('"MainThread"') for h in headers) == 1
        assert all(re.search(r'"Thread-\d+( \(idle_thread\))?"$', h) for h in headers
                   if not h.endswith(('"deep"', '"MainThread"'))), \
            [h for h in headers if "Thread-" not in h][:5]
        assert "omitted" not in r.stderr and "did not read" not in r.stderr, r.stderr
    finally:
        p.kill()
        p.wait()


def test_10000_deep_stack_whole(heavy_interp):
    p = start(heavy_interp, 10000, 0)
    try:
        r = run_pyspy(["dump", "--pid", p.pid], timeout=120)
        assert r.returncode == 0, r.stderr
        frames = the_deep_thread(r.stdout)
        assert frames[:len(frames) - 3] == deep_frames(10000)[:len(frames) - 3], frames[:3]
        assert frames[len(frames) - 3].startswith("run (threading.py:"), frames[-4:]
        assert len(frames) == 10000 + 3, len(frames)   # + run, _bootstrap_inner, _bootstrap
        assert "omitted" not in r.stderr, r.stderr
    finally:
        p.kill()
        p.wait()


def test_deeper_than_kept_marks_the_cut(heavy_interp, tmp_path):
    depth = 40000
    p = start(heavy_interp, depth, 0)
    try:
        r = run_pyspy(["dump", "--pid", p.pid], timeout=120)
        assert r.returncode == 0, r.stderr
        frames = the_deep_thread(r.stdout)
        whole = deep_frames(depth) + frames[-3:]   # the threading frames at the root
        omitted = len(whole) - KEEP_LEAF - KEEP_ROOT
        assert frames[:KEEP_LEAF] == whole[:KEEP_LEAF]
        assert frames[KEEP_LEAF] == "[%d frames omitted]" % omitted, frames[KEEP_LEAF]
        assert frames[KEEP_LEAF + 1:] == whole[-KEEP_ROOT:]
        assert frames[-1].startswith("_bootstrap (threading.py:"), frames[-1]
        assert re.search(r"%d frames left out of 1 stacks deeper than %d frames" %
                         (omitted, KEEP_LEAF + KEEP_ROOT), r.stderr), r.stderr

        out = tmp_path / "deep.txt"
        r = run_pyspy(["record", "--pid", p.pid, "-d", "1", "-r", "5", "--idle",
                       "-f", "raw", "-o", out], timeout=120)
        assert r.returncode == 0, r.stderr
        stacks = [l.rsplit(" ", 1)[0].split(";") for l in out.read_text().splitlines()]
        deep = [s for s in stacks if any(f.startswith("deep_root") for f in s)]
        assert deep, stacks
        for s in deep:    # root first in collapsed stacks
            assert s[0].startswith("_bootstrap (threading.py:"), s[:3]
            assert s[-KEEP_LEAF - 1] == "[%d frames omitted]" % omitted, s[-KEEP_LEAF - 1]
        m = re.search(r"(\d+) frames left out of (\d+) stacks deeper than", r.stderr)
        assert m and int(m.group(1)) == omitted * int(m.group(2)), r.stderr
    finally:
        p.kill()
        p.wait()
