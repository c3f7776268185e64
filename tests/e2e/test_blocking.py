"""Blocking mode holds only the threads that run Python code, for as short
a time as it can, and never waits for ever: native threads (no Python
thread state) are never seized; a thread that another process traces is
counted and read unheld; a thread that reaches no stop in time makes the
sample be given up and counted; shares stay right on a loaded machine."""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, run_pyspy

PROGS = pathlib.Path(__file__).resolve().parent / "programs_blocking"
NATIVE_SRC = PROGS / "native_threads.c"
COSTS = re.compile(r"Failed samples: (\d+), cut short: (\d+), given up \(threads not stopped in time\): (\d+)")
WROTE = re.compile(r"Samples: (\d+) Errors: (\d+)")


@pytest.fixture(scope="module")
def native_lib(tmp_path_factory):
    """The native_threads library, built for this run."""
    out = tmp_path_factory.mktemp("native") / "libnative_threads.so"
    r = subprocess.run(["cc", "-shared", "-fPIC", "-pthread", "-O1", "-o", str(out), str(NATIVE_SRC)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def start_native(interp, lib, mode):
    interp.require()
    if interp.version < (3, 8):
        pytest.skip(f"{interp.name}: threading.get_native_id needs 3.8")
    p = subprocess.Popen(interp.command(PROGS / "native.py", lib, mode), env=interp.environ(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("{"):
        p.kill()
        pytest.fail(f"{interp.name} native.py {mode} did not start: {line!r} {p.stderr.read()}")
    return p, json.loads(line)


def end(p):
    if p.poll() is None:
        p.kill()
    p.wait(timeout=30)


def task_file(pid, tid, name):
    try:
        with open(f"/proc/{pid}/task/{tid}/{name}") as f:
            return f.read()
    except OSError:
        return None


def tracer_of(pid, tid):
    text = task_file(pid, tid, "status")
    m = re.search(r"^TracerPid:\s*(\d+)", text or "", re.M)
    return int(m.group(1)) if m else None


def state_of(pid, tid):
    text = task_file(pid, tid, "stat")
    return text.rsplit(")", 1)[1].split()[0] if text else None


def assert_left_running(p, info):
    """py-spy has exited: no thread is held by it (or stopped)."""
    deadline = time.monotonic() + 5
    while True:
        held = [t for t in os.listdir(f"/proc/{p.pid}/task")
                if state_of(p.pid, t) in ("t", "T") or
                (tracer_of(p.pid, t) not in (0, None, info.get("tracer")))]
        if not held or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not held, f"threads left held: {held}"
    assert p.poll() is None, "the target died"


def test_native_threads_never_held(heavy_interp, native_lib, tmp_path):
    """While py-spy records blocking, the native threads are never seized
    (TracerPid) nor seen in a traced stop ('t'); the Python threads are,
    which shows that the polling below can see a hold at all."""
    p, info = start_native(heavy_interp, native_lib, "plain")
    out = tmp_path / "x.txt"
    err = tmp_path / "err.txt"
    try:
        with open(err, "w") as ef:
            rec = subprocess.Popen([str(ROOT / "build" / "py-spy"), "record", "-p", str(p.pid),
                                    "-r", "1000", "-d", "4", "-o", f"collapsed:{out}"],
                                   stdout=subprocess.DEVNULL, stderr=ef)
        native_seen, python_seen, polls = [], 0, 0
        while rec.poll() is None:
            for tid in info["native"]:
                tracer, state = tracer_of(p.pid, tid), state_of(p.pid, tid)
                if tracer or state == "t":
                    native_seen.append((tid, tracer, state))
            for tid in info["python"]:
                python_seen += bool(tracer_of(p.pid, tid))
            polls += 1
        assert rec.wait(timeout=60) == 0, err.read_text()
        assert_left_running(p, info)
    finally:
        end(p)
    assert polls > 100, f"only {polls} polls"
    assert not native_seen, f"native threads seen held: {native_seen[:5]} ({len(native_seen)})"
    assert python_seen > 0, f"no Python thread seen held in {polls} polls"
    text = out.read_text()
    assert "compute (native.py:" in text and "worker (native.py:" in text, text[:2000]


def test_thread_traced_elsewhere(heavy_interp, native_lib, tmp_path):
    """A Python thread that another process traces cannot be held: each
    sample counts it as an error and reads it unheld; nothing is fatal."""
    p, info = start_native(heavy_interp, native_lib, "traced")
    assert info["tracer"] > 0, info
    out = tmp_path / "x.txt"
    try:
        assert tracer_of(p.pid, info["python"][2]) == info["tracer"]
        r = run_pyspy(["record", "-p", p.pid, "-r", 100, "-d", 2, "-o", f"collapsed:{out}"],
                      timeout=60)
        assert r.returncode == 0, r.stderr
        assert_left_running(p, info)
        assert tracer_of(p.pid, info["python"][2]) == info["tracer"]
    finally:
        end(p)
    assert f"already traced by process {info['tracer']}" in r.stderr, r.stderr
    samples, errors = map(int, WROTE.search(r.stderr).groups())
    assert samples > 0 and errors > 0, r.stderr
    assert "worker (native.py:" in out.read_text()


def test_thread_that_cannot_stop(heavy_interp, native_lib, tmp_path):
    """A Python thread blocked in vfork() (state D) reaches no stop: the
    samples that need it are given up and counted, py-spy never hangs, and
    the thread is let go once its stop comes."""
    p, info = start_native(heavy_interp, native_lib, "vfork")
    out = tmp_path / "x.txt"
    try:
        t0 = time.monotonic()
        r = run_pyspy(["record", "-p", p.pid, "-r", 100, "-d", 3, "-o", f"collapsed:{out}"],
                      timeout=60)
        took = time.monotonic() - t0
        assert r.returncode == 0, r.stderr
        assert_left_running(p, info)
    finally:
        end(p)
    m = COSTS.search(r.stderr)
    assert m, r.stderr
    assert int(m.group(3)) > 0, r.stderr
    samples, errors = map(int, WROTE.search(r.stderr).groups())
    assert errors >= int(m.group(3)), r.stderr
    assert "Stopped sampling because the duration elapsed" in r.stderr
    assert took < 30, f"py-spy took {took:.1f}s for a 3 s recording"


def raise_priority():
    """preexec_fn: the target, the hogs and py-spy run ahead of other work
    on the machine (root only), so that the target competes for the CPUs
    with the two hogs as on a machine with nothing else to do."""
    try:
        os.nice(-10)
    except OSError:
        pass


def hog():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], preexec_fn=raise_priority)


def standard_error(seq, f, truth, batch=25):
    """Standard error of the share of F in SEQ (phase names in sample
    order): the binomial one, or, when it is larger, the one of batch
    means, since on a busy machine neighbouring samples are not
    independent (a thread that waits for a CPU shows the same stack to
    every sample until it runs)."""
    n = len(seq)
    se = (truth * (1 - truth) / n) ** 0.5
    shares = [sum(x == f for x in seq[i:i + batch]) / batch for i in range(0, n - batch + 1, batch)]
    if len(shares) >= 10:
        mean = sum(shares) / len(shares)
        var = sum((x - mean) ** 2 for x in shares) / (len(shares) - 1)
        se = max(se, (var / len(shares)) ** 0.5)
    return se


def test_shares_on_a_loaded_machine(heavy_interp, tmp_path):
    """Three phases take about 50/30/20% of the program's CPU time; two CPU
    hogs keep both CPUs busy.  Recorded at 100 Hz blocking, the share of
    each phase must match the share of the program's own thread CPU time
    in it within 4 standard errors."""
    heavy_interp.require()
    report = tmp_path / "truth.json"
    hogs = [hog(), hog()]
    p = subprocess.Popen(heavy_interp.command(PROGS / "phases.py", report),
                         env=heavy_interp.environ(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=raise_priority)
    out = tmp_path / "x.json"
    try:
        assert p.stdout.readline().startswith("ready")
        r = run_pyspy(["record", "-p", p.pid, "-r", 100, "-d", 10, "-f", "speedscope",
                       "-o", out], timeout=120, preexec_fn=raise_priority)
        assert r.returncode == 0, r.stderr
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        end(p)
    doc = json.loads(out.read_text())
    frames = doc["shared"]["frames"]
    phases = {"phase_a": "a", "phase_b": "b", "phase_c": "c"}
    seq = []
    for prof in doc["profiles"]:
        for sample in prof["samples"]:
            names = [phases[frames[i]["name"]] for i in sample if frames[i]["name"] in phases]
            if names:
                seq.append(names[-1])
    assert len(seq) >= 300, f"only {len(seq)} samples in the phases\n{r.stderr}"
    clock = json.loads(report.read_text())
    clocked = sum(clock.values())
    for f in "abc":
        truth = clock[f] / clocked
        got = seq.count(f) / len(seq)
        se = standard_error(seq, f, truth)
        assert abs(got - truth) <= 4 * se, (f"{f}: py-spy {100 * got:.1f}%, thread CPU time "
                                            f"{100 * truth:.1f}% (4 SE = {400 * se:.1f} points, "
                                            f"{len(seq)} samples)\n{r.stderr}")
