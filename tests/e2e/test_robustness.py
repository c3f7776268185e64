"""py-spy never crashes, hangs or leaks on what it reads from the target.

1. Garbage: the ASan+UBSan build reads a made-up process whose memory is
   pseudo-random words (tests/fixtures/fx_garbage_backend.c) with the
   layouts of several Python versions: every run must end within its
   timeout, exit 0 or 1, print no sanitizer report and at most one error line.
2. Chaos: the ASan+UBSan build records and dumps real interpreters running
   tests/e2e/programs_chaos/chaos.py (threads, recursion, generators,
   coroutines, exceptions and modules changing all the time), paused and
   not paused: no crash, samples recorded, the target still running and
   never left stopped.
"""
import concurrent.futures
import os
import re
import resource
import subprocess
import time

import pytest

from conftest import PYSPY_ASAN, ROOT, run_pyspy

ASAN = ROOT / "build-asan"
GARBAGE = ASAN / "tests" / "fixtures" / "fx_garbage_backend.so"
CHAOS = ROOT / "tests" / "e2e" / "programs_chaos" / "chaos.py"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                   "ERROR: UndefinedBehaviorSanitizer")
TIMEOUT = 20

# (PY_VERSION_HEX served by the fake runtime, the layout module whose offsets
# plant the interpreter chain)
VERSIONS = [
    ("0x020712f0", "cpython-2.7"),
    ("0x030912f0", "cpython-3.9"),
    ("0x030a0df0", "cpython-3.10"),
    ("0x030b07f0", "cpython-3.11"),
    ("0x030c01f0", "cpython-3.12"),
    ("0x030d00f0", "cpython-3.13"),
    ("0x030f00a0", "cpython-3.15"),
]
DUMP_SEEDS = 28      # per version: 7 * 29 = 203 dumps with a planted chain
# Seeds that found bugs, run for every version as well: 217 (a garbage int of
# four 30-bit digits shifted past 64 bits in threadnames.c).
REGRESSION_SEEDS = [217]
RECORD_SEEDS = 2     # per version, with memory changing every sample


@pytest.fixture(scope="module")
def asan():
    for need in (PYSPY_ASAN, GARBAGE, ASAN / "modules" / "outputs" / "collapsed.so"):
        if not need.exists():
            pytest.skip(f"the ASan build is absent ({need} not built: make check builds it)")
    return PYSPY_ASAN


def write_config(path, seed, version, layout=None, mutate=False, cookie=False, cycles=False):
    """A plugins.ini serving the garbage backend, the ASan build's layouts and outputs."""
    lines = [
        "[backend]",
        f"linux = {GARBAGE}",
        "[layouts]",
        f"scan = {ASAN / 'modules' / 'layouts'}",
        "[outputs]",
        f"dump = {ASAN / 'modules' / 'outputs' / 'dump.so'}",
        f"collapsed = {ASAN / 'modules' / 'outputs' / 'collapsed.so'}",
        "[linux]",
        f"seed = {seed}",
        f"version = {version}",
    ]
    if layout:
        lines.append(f"layout = {ASAN / 'modules' / 'layouts' / (layout + '.so')}")
    if mutate:
        lines.append("mutate = 1")
    if cookie:
        lines.append("debug_cookie = 1")
    if cycles:
        lines.append("cycles = 1")
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    return path


def check_run(binary, args, what):
    """Run py-spy; fail on a hang, a signal, a sanitizer report or a messy error."""
    try:
        r = run_pyspy(args, binary=binary, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: py-spy {' '.join(map(str, args))} hung (> {TIMEOUT} s)")
    for mark in SANITIZER_MARKS:
        assert mark not in r.stderr, f"{what}: sanitizer report\n{r.stderr[-4000:]}"
    assert r.returncode in (0, 1), f"{what}: exit {r.returncode}\n{r.stderr[-4000:]}"
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) <= 1, f"{what}: more than one error line\n{r.stderr}"
    if r.returncode == 1:
        assert errors, f"{what}: exit 1 without an error line\n{r.stderr}"
        assert r.stderr.strip().splitlines()[-1] == errors[0], f"{what}: output after the error\n{r.stderr}"
    return r


def run_many(jobs):
    """Run (binary, args, what) jobs two at a time; returns their results."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda j: check_run(*j), jobs))


@pytest.mark.parametrize("version,layout", VERSIONS, ids=[v[1] for v in VERSIONS])
def test_garbage_dump(asan, tmp_path, version, layout):
    jobs = []
    seeds = [s * 7919 + int(version, 16) for s in range(1, DUMP_SEEDS + 1)] + REGRESSION_SEEDS
    for seed in seeds:
        cfg = write_config(tmp_path / f"p{seed}.ini", seed, version, layout=layout,
                           cookie=(seed % 4 == 0))
        jobs.append((asan, ["--config", cfg, "dump", "--pid", "4242"], f"{layout} seed {seed}"))
    results = run_many(jobs)
    # The planted chain gets discovery through: some dumps show threads.
    assert any("Thread" in r.stdout for r in results), "no dump got as far as a thread"


def test_garbage_cycles(asan, tmp_path):
    """A thread list that cycles without meeting its head, threads whose
    frame is its own previous frame: each walk ends at once (it used to walk
    4096 thread states of 4096 frames each: minutes per dump)."""
    jobs = []
    for version, layout in VERSIONS:
        cfg = write_config(tmp_path / f"{layout}.ini", 5, version, layout=layout, cycles=True)
        jobs.append((asan, ["--config", cfg, "dump", "--pid", "4242"], layout))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for (_, _, layout), r in zip(jobs, run_many(jobs)):
        assert r.returncode == 0, f"{layout}: {r.stderr}"
        assert r.stdout.count("Thread") >= 3, f"{layout}: the cycle's threads are not shown\n{r.stdout}"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds, not wall time: other work on the machine does not count
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 15, f"cycles took {cpu:.1f} CPU seconds to detect"


def test_garbage_discovery(asan, tmp_path):
    """No planted chain: discovery meets garbage only and says so in one line."""
    jobs = []
    for seed in range(1, 15):
        version = VERSIONS[seed % len(VERSIONS)][0]
        cfg = write_config(tmp_path / f"p{seed}.ini", seed, version, cookie=(seed % 2 == 0))
        jobs.append((asan, ["--config", cfg, "dump", "--pid", "4242"], f"seed {seed}"))
    for r in run_many(jobs):
        assert r.returncode == 1 and "interpreter" in r.stderr, r.stderr


@pytest.mark.parametrize("version,layout", VERSIONS, ids=[v[1] for v in VERSIONS])
def test_garbage_record(asan, tmp_path, version, layout):
    jobs = []
    for seed in range(1, RECORD_SEEDS + 1):
        cfg = write_config(tmp_path / f"p{seed}.ini", seed * 104729, version, layout=layout,
                           mutate=True)
        out = tmp_path / f"out{seed}.txt"
        args = ["--config", cfg, "record", "-d", "1", "-r", "200", "--idle", "-o",
                f"collapsed:{out}", "--pid", "4242"]
        if seed % 2 == 0:
            args.append("--nonblocking")
        jobs.append((asan, args, f"{layout} seed {seed}"))
    for r in run_many(jobs):
        assert r.returncode == 0, r.stderr
        m = re.search(r"Samples: (\d+) Errors: (\d+)", r.stdout + r.stderr)
        assert m, r.stdout + r.stderr
        # Samples with a stack or threads counted as errors: the walks ran.
        assert int(m.group(1)) + int(m.group(2)) > 0, m.group(0)


# ---- chaos against real interpreters -------------------------------------


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def assert_running(proc, what):
    assert proc.poll() is None, f"{what}: the target died (exit {proc.returncode})"
    # py-spy has exited: the target must not be left stopped.
    for _ in range(20):
        state = proc_state(proc.pid)
        if state not in ("t", "T"):
            return
        time.sleep(0.01)
    pytest.fail(f"{what}: the target was left stopped (state {state})")


def test_chaos(asan, heavy_interp, tmp_path):
    interp = heavy_interp.require()
    folder = tmp_path / "mods"
    folder.mkdir()
    proc = subprocess.Popen(interp.command(CHAOS, 120, folder), env=interp.environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        pid = str(proc.pid)
        for name, extra, rate in (("nonblocking", ["--nonblocking"], "1000"), ("blocking", [], "200")):
            out = tmp_path / f"{name}.txt"
            r = check_run(asan, ["record", "--pid", pid, "-d", "3", "-r", rate,
                                 "-o", f"collapsed:{out}"] + extra, f"record {name}")
            assert r.returncode == 0, r.stderr
            m = re.search(r"Samples: (\d+) Errors: (\d+)", r.stdout + r.stderr)
            assert m and int(m.group(1)) > 0, r.stdout + r.stderr
            assert out.exists() and out.stat().st_size > 0
            assert "deep" in out.read_text(), f"record {name}: the recursion was never seen"
            assert_running(proc, f"record {name}")
        dumps_ok = 0
        for i in range(20):
            r = check_run(asan, ["dump", "--pid", pid] + (["--nonblocking"] if i % 2 else []),
                          f"dump {i}")
            dumps_ok += r.returncode == 0
            assert_running(proc, f"dump {i}")
        assert dumps_ok >= 15, f"only {dumps_ok} of 20 dumps succeeded"
    finally:
        proc.kill()
        proc.wait()


LOCALS_SEEDS = 10    # per version, dump --locals (text and JSON) over garbage


@pytest.mark.parametrize("version,layout", VERSIONS, ids=[v[1] for v in VERSIONS])
def test_garbage_dump_locals(asan, tmp_path, version, layout):
    """--locals follows every frame's variables, names, cells and nested
    containers through garbage: it must end, unharmed, like a plain dump."""
    jobs = []
    seeds = [s * 104729 + int(version, 16) for s in range(1, LOCALS_SEEDS + 1)]
    for seed in seeds:
        cfg = write_config(tmp_path / f"l{seed}.ini", seed, version, layout=layout)
        args = ["--config", cfg, "dump", "--pid", "4242", "--locals"] + (["--json"] if seed % 2 else [])
        jobs.append((asan, args, f"{layout} seed {seed} --locals"))
    results = run_many(jobs)
    assert any("Thread" in r.stdout or '"frames"' in r.stdout for r in results), \
        "no dump got as far as a thread"
