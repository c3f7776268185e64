"""Blocking-mode section of the benchmark (make bench runs it after
bench.py and appends its tables to bench/RESULTS.md).

On CPython 3.12 (and 3.15 for its own sampler), for py-spy record:
  - CPU per sample, and the same minus start-up and minus the machine's
    floor at that rate (own work), as in bench.py;
  - the hold per sample, median and 99th percentile (py-spy's summary), and
    the share of wall time the target was held;
  - samples given up (threads not stopped in time);
  - the target's slowdown, each profiled run paired with a run alone just
    before it;
for: the 30-deep recursion quiet and with two CPU hogs on the machine (this
script starts and stops them), 10 kHz, 200 GIL-bound threads and 200
mostly-sleeping threads at 100 Hz; and CPython 3.15's own sampler
(`python3.15 -m profiling.sampling attach`) with and without --blocking
beside py-spy on the same target, in the same run.

Figures taken on a machine shared with other work include the time the
target and the profiler waited for a CPU: run it on a quiet machine.
"""
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import bench

THREADS = bench.HERE / "threads.py"
HOLD = re.compile(r"Hold per sample: median ([\d.]+) us, 99th percentile ([\d.]+) us")
HELD = re.compile(r"\(([\d.]+)%\)\. Failed samples")
GAVE_UP = re.compile(r"given up \(threads not stopped in time\): (\d+)")
INSTANTS = re.compile(r"Sampling instants: (\d+)")


@contextlib.contextmanager
def hogs(n):
    """n processes that spin on a CPU each, for the time of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def start(py, workload):
    """workload: None (the recursion) or (n, "busy"|"sleepy") threads."""
    if workload is None:
        return bench.start_target(py, bench.SECONDS)
    n, mode = workload
    p = subprocess.Popen([py, str(THREADS), str(bench.SECONDS), str(n), mode],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        p.kill()
        raise RuntimeError(f"{py}: threads workload did not start: {line!r}")
    return p


def record_pyspy(py, rate, nonblocking, workload):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.txt")
        target = start(py, workload)
        args = [str(bench.PYSPY), "record", "-p", str(target.pid), "-r", str(rate),
                "-o", f"collapsed:{out}"] + (["--nonblocking"] if nonblocking else [])
        cpu0 = bench.children_cpu()
        r = subprocess.run(args, capture_output=True, text=True, timeout=bench.SECONDS + 120)
        cpu = bench.children_cpu() - cpu0
        work = bench.target_work(target)
        if r.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"py-spy failed: {r.stderr}")
        stacks = bench.pyspy_stacks(out)
    m = re.search(r"over ([\d.]+)s of sampling", r.stderr)
    secs = float(m.group(1)) if m else bench.SECONDS
    hold, held, gave = HOLD.search(r.stderr), HELD.search(r.stderr), GAVE_UP.search(r.stderr)
    instants = INSTANTS.search(r.stderr)
    ticks = int(instants.group(1)) if instants else 0
    samples = sum(n for _, n in stacks)
    # per sampling instant, not per thread stack (200 threads: 200 stacks)
    return {"cpu": cpu, "samples": ticks or samples, "secs": secs, "work": work,
            "rate": (ticks or samples) / secs if secs else 0.0,
            "hold_med": float(hold.group(1)) if hold else float("nan"),
            "hold_p99": float(hold.group(2)) if hold else float("nan"),
            "held_pct": float(held.group(1)) if held else 0.0,
            "gave_up": int(gave.group(1)) if gave else 0, "ticks": ticks}


def record_cpython(py, rate, blocking, workload):
    """python3.15 -m profiling.sampling attach, collapsed output."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.txt")
        target = start(py, workload)
        args = [py, "-m", "profiling.sampling", "attach", "-r", str(rate), "-a",
                "--collapsed", "-o", out, str(target.pid)] + (["--blocking"] if blocking else [])
        cpu0 = bench.children_cpu()
        t0 = time.time()
        r = subprocess.run(args, capture_output=True, text=True, timeout=bench.SECONDS + 120)
        secs = time.time() - t0
        cpu = bench.children_cpu() - cpu0
        work = bench.target_work(target)
        if not os.path.exists(out):
            raise RuntimeError(f"profiling.sampling failed: {r.stderr[-300:]}")
        samples = sum(int(l.rsplit(" ", 1)[1]) for l in open(out) if l.strip())
    return {"cpu": cpu, "samples": samples, "secs": secs, "work": work,
            "rate": samples / secs if secs else 0.0, "hold_med": float("nan"),
            "hold_p99": float("nan"), "held_pct": float("nan"), "gave_up": 0, "ticks": 0}


def paired(py, rate, fn, *args, workload=None, startup=0.0):
    """Median over bench.RUNS pairs: the workload alone (the floor is
    measured on it), then under the profiler."""
    runs = []
    for _ in range(bench.RUNS):
        target = start(py, workload)
        # the floor takes a quarter of the run: under load it can take longer
        floor = bench.floor_us(target.pid, rate, bench.SECONDS / 4) \
            if rate < bench.FULL_SPEED else 0.0
        alone = bench.target_work(target)
        m = fn(py, rate, *args, workload)
        m["floor"] = floor
        m["cpu_us"] = 1e6 * m["cpu"] / m["samples"] if m["samples"] else float("nan")
        m["own"] = (1e6 * max(m["cpu"] - startup, 0.0) / m["samples"] - floor) \
            if m["samples"] else float("nan")
        m["slowdown"] = 1.0 - m["work"] / alone if alone else float("nan")
        runs.append(m)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def fmt(x, spec=".1f"):
    return "-" if x != x else format(x, spec)


def row(case, tool, mode, rate, m):
    asked = "full speed" if rate >= bench.FULL_SPEED else str(rate)
    return (f"| {case} | {tool} | {mode} | {asked} | {m['rate']:.1f} | {fmt(m['cpu_us'])} "
            f"| {fmt(m['floor'])} | {fmt(m['own'])} | {fmt(m['hold_med'])} | {fmt(m['hold_p99'])} "
            f"| {fmt(m['held_pct'], '.2f')} | {m['gave_up']:.0f} | {100 * m['slowdown']:+.1f} |")


def pyspy_rows(py, startup):
    rows = []
    plan = [
        ("recursion", 0, None, [(100, False), (1000, False), (bench.FULL_SPEED, False),
                                (bench.FULL_SPEED, True)]),
        ("recursion, 2 CPU hogs", 2, None, [(100, False), (1000, False), (100, True)]),
        ("recursion, 10 kHz", 0, None, [(10000, False), (10000, True)]),
        ("200 GIL-bound threads", 0, (200, "busy"), [(100, False), (100, True)]),
        ("200 sleeping threads", 0, (200, "sleepy"), [(100, False), (100, True)]),
    ]
    for case, nhogs, workload, runs in plan:
        with hogs(nhogs):
            for rate, nb in runs:
                mode = "nonblocking" if nb else "blocking"
                print(f"   {case}: py-spy {mode} {rate} Hz", flush=True)
                try:
                    m = paired(py, rate, record_pyspy, nb, workload=workload, startup=startup)
                    rows.append(row(case, "py-spy", mode, rate, m))
                except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                    rows.append(f"| {case} | py-spy | {mode} | {rate} | failed: {e} |||||||||")
    return rows


def cpython_rows(py, startup):
    rows = []
    for rate in (1000, 10000):
        for blocking in (False, True):
            mode = "blocking" if blocking else "nonblocking"
            print(f"   3.15 profiling.sampling {mode} {rate} Hz", flush=True)
            try:
                m = paired(py, rate, record_cpython, blocking)
                rows.append(row("recursion", "3.15 profiling.sampling", mode, rate, m))
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                rows.append(f"| recursion | 3.15 profiling.sampling | {mode} | {rate} | failed: {e} |||||||||")
            print(f"   3.15 py-spy {mode} {rate} Hz", flush=True)
            try:
                m = paired(py, rate, record_pyspy, not blocking, startup=startup)
                rows.append(row("recursion", "py-spy", mode, rate, m))
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                rows.append(f"| recursion | py-spy | {mode} | {rate} | failed: {e} |||||||||")
    return rows


HEADER = ["| case | tool | mode | Hz asked | rate | CPU/sample (us) | floor (us) | own work (us) "
          "| hold median (us) | hold p99 (us) | held (% of wall) | given up | slowdown (%) |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def main():
    load0 = os.getloadavg()[0]
    lines = ["## Blocking mode (bench/blocking.py)", "",
             "rate and CPU/sample count sampling instants (one instant of 200 threads is "
             "one sample).  "
             "py-spy holds only the Python threads that run and the last GIL holder, "
             "from the first stop until it lets go; hold median and 99th percentile are "
             "py-spy's own summary (within 12.5%); held is the total over wall time; "
             "given up: samples whose threads did not stop in time (counted, not recorded). "
             "own work = CPU/sample minus start-up minus the floor.  Each figure is the "
             f"median of {bench.RUNS} runs of {bench.SECONDS:g} s paired with runs alone.", ""]
    py312 = bench.pyenv_python("3.12.1")
    if os.access(py312, os.X_OK):
        print(f"== blocking: 3.12 {py312}", flush=True)
        startup = bench.pyspy_startup(py312)
        lines += ["### CPython 3.12 (pyenv 3.12.1)", ""] + HEADER + pyspy_rows(py312, startup) + [""]
    py315 = bench.sid_python(15)
    if py315 and subprocess.run([py315, "-c", "import profiling.sampling"],
                                capture_output=True).returncode != 0:
        lines += [f"CPython 3.15 ({py315}) does not start or has no profiling.sampling: "
                  "its own sampler was not measured.", ""]
        py315 = None
    if py315:
        print(f"== blocking: 3.15 {py315}", flush=True)
        startup = bench.pyspy_startup(py315)
        lines += ["### CPython 3.15 (Debian sid): its own sampler beside py-spy", ""] + HEADER + \
            cpython_rows(py315, startup) + [""]
    elif not any("3.15" in l for l in lines):
        lines += ["CPython 3.15 is not present (tests/interpreters/fetch-sid.sh): "
                  "its own sampler was not measured.", ""]
    lines += [f"Load average (1 min) at the start: {load0:.1f}, at the end: "
              f"{os.getloadavg()[0]:.1f}.", ""]
    with open(bench.HERE / "RESULTS.md", "a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
