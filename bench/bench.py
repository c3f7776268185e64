"""py-spy benchmark (make bench; not part of the tests).

For a 30-deep recursion (bench/recurse.py) on CPython 3.9, 3.12 and the
newest interpreter present, measures for py-spy record at 100 and 1000 Hz,
blocking and --nonblocking, and nonblocking at full speed (a rate it cannot
reach, so that it never waits):
  - py-spy's CPU time per sample (getrusage of children, user + sys);
  - this machine's floor at that rate: the CPU time of a bare sleep and
    wake-up plus one 8-byte read of the target (build/bench/floor), which
    every sampler that waits between samples pays;
  - the achieved sampling rate;
  - the share of incomplete samples (complete = <module>, main, every
    recursion level, leaf);
  - the time the target was held stopped per second (blocking);
  - the target's slowdown (work rate with vs without profiling);
each the median of several runs, and the same for Debian's austin on 3.9.
Writes bench/RESULTS.md.
"""
import os
import pathlib
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PYSPY = ROOT / "build" / "py-spy"
FLOOR = ROOT / "build" / "bench" / "floor"
FULL_SPEED = 1000000  # Hz asked for the full-speed rows (the most py-spy takes): never reached
WORKLOAD = HERE / "recurse.py"
DEPTH = 30
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
RATES = (100, 1000)
COMPLETE = ["<module>", "main"] + ["rec"] * DEPTH + ["leaf"]


def pyenv_python(version):
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = os.path.expanduser("~/.pyenv")
    return os.path.join(root or os.path.expanduser("~/.pyenv"), "versions", version,
                        "bin", "python")


def sid_python(minor):
    try:
        cache = subprocess.run([str(ROOT / "tests/interpreters/fetch-sid.sh"), "--print-cache"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    exe = os.path.join(cache, "root", "usr", "bin", f"python3.{minor}")
    return exe if cache and os.access(exe, os.X_OK) else None


def interpreters():
    found = [("3.9 (pyenv 3.9.18)", pyenv_python("3.9.18")),
             ("3.12 (pyenv 3.12.1)", pyenv_python("3.12.1"))]
    sid = sid_python(15)
    found.append(("3.15 (Debian sid)", sid) if sid else ("3.13 (pyenv 3.13.0)", pyenv_python("3.13.0")))
    return [(n, p) for n, p in found if p and os.access(p, os.X_OK)]


def start_target(py, seconds):
    p = subprocess.Popen([py, str(WORKLOAD), str(seconds)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        p.kill()
        raise RuntimeError(f"{py}: workload did not start: {line!r} {p.stderr.read()}")
    return p


def readable_address(pid):
    """The start of the target's first readable private mapping."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if fields[1].startswith("r") and "p" in fields[1]:
                return "0x" + fields[0].split("-")[0]
    raise RuntimeError(f"no readable mapping in process {pid}")


def floor_us(pid, rate, seconds):
    """build/bench/floor against the running target: CPU us per wake-up."""
    r = subprocess.run([str(FLOOR), str(rate), str(seconds), str(pid), readable_address(pid)],
                       capture_output=True, text=True, timeout=seconds + 30)
    m = re.search(r"floor ([\d.]+)", r.stdout)
    if not m:
        raise RuntimeError(f"bench/floor failed: {r.stderr}")
    return float(m.group(1))


def target_work(p):
    out, _ = p.communicate(timeout=120)
    m = re.search(r"work ([\d.]+)", out)
    return float(m.group(1)) if m else float("nan")


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def complete_share(stacks):
    """stacks: [(frame names root first, count)] -> share of incomplete."""
    total = sum(n for _, n in stacks)
    bad = sum(n for names, n in stacks if names != COMPLETE)
    return (bad / total) if total else float("nan")


def pyspy_stacks(path):
    stacks = []
    for line in open(path):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        stacks.append(([f.split(" (")[0] for f in stack.split(";")], int(n)))
    return stacks


def austin_stacks(path):
    stacks = []
    for line in open(path):
        if not line.startswith(("Thread ", "P")):
            continue
        body, _, _metric = line.rstrip("\n").rpartition(" ")
        parts = body.split(";")[1:]
        names = [f.split(" (")[0] for f in parts if not re.fullmatch(r"L\d+", f)]
        stacks.append((names, 1))
    return stacks


def run_pyspy(py, rate, nonblocking):
    """One recording of a whole workload run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.txt")
        target = start_target(py, SECONDS)
        args = [str(PYSPY), "record", "-p", str(target.pid), "-r", str(rate),
                "-o", f"collapsed:{out}"]
        if nonblocking:
            args.append("--nonblocking")
        cpu0 = children_cpu()
        r = subprocess.run(args, capture_output=True, text=True, timeout=SECONDS + 60)
        cpu = children_cpu() - cpu0
        work = target_work(target)
        if r.returncode != 0 or not os.path.exists(out):
            raise RuntimeError(f"py-spy failed: {r.stderr}")
        stacks = pyspy_stacks(out)
    samples = sum(n for _, n in stacks)
    m = re.search(r"over ([\d.]+)s of sampling", r.stderr)
    secs = float(m.group(1)) if m else SECONDS
    held = re.search(r"stopped for ([\d.]+)s in total", r.stderr)
    return {
        "rate": samples / secs if secs else 0.0,
        "cpu_us": 1e6 * cpu / samples if samples else float("nan"),
        "cpu": cpu,
        "samples": samples,
        "incomplete": complete_share(stacks),
        "held_ms_s": (1e3 * float(held.group(1)) / secs) if held and secs else 0.0,
        "work": work,
    }


def pyspy_startup(py):
    """py-spy's CPU time for attaching, finding the interpreter and writing
    an (almost) empty output: a recording of 10 ms."""
    cpus = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as tmp:
            target = start_target(py, 2)
            cpu0 = children_cpu()
            subprocess.run([str(PYSPY), "record", "-p", str(target.pid), "-d", "0.01",
                            "-o", f"collapsed:{tmp}/out.txt"], capture_output=True,
                           timeout=60)
            cpus.append(children_cpu() - cpu0)
            target.kill()
            target.wait()
    return statistics.median(cpus)


def run_austin(py, rate):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.txt")
        target = start_target(py, SECONDS)
        cpu0 = children_cpu()
        t0 = time.time()
        interval = 0 if rate >= FULL_SPEED else int(1e6 / rate)
        aus = subprocess.Popen(["austin", "-i", str(interval), "-p", str(target.pid),
                                "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        # Reap the target as it exits: austin waits while it is a zombie.
        work = target_work(target)
        _, err = aus.communicate(timeout=60)
        secs = time.time() - t0
        cpu = children_cpu() - cpu0
        if not os.path.exists(out):
            raise RuntimeError(f"austin failed: {err}")
        stacks = austin_stacks(out)
    samples = len(stacks)
    return {
        "rate": samples / secs if secs else 0.0,
        "cpu_us": 1e6 * cpu / samples if samples else float("nan"),
        "cpu": cpu,
        "samples": samples,
        "incomplete": complete_share(stacks),
        "held_ms_s": 0.0,
        "work": work,
    }


def median_of(py, fn, rate, *args):
    """Median of RUNS pairs: the workload alone, then under the profiler, so
    that a change in the machine's load hits both halves of a pair alike.
    While the workload runs alone, the floor at `rate` is measured on it."""
    runs = []
    for _ in range(RUNS):
        target = start_target(py, SECONDS)
        floor = floor_us(target.pid, rate, max(SECONDS - 1.0, 1.0)) if rate < FULL_SPEED else 0.0
        alone = target_work(target)
        m = fn(py, rate, *args)
        m["alone"] = alone
        m["floor"] = floor
        m["slowdown"] = 1.0 - m["work"] / alone if alone else float("nan")
        runs.append(m)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def machine():
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model, platform.release(), os.cpu_count()


def row(tool, mode, rate, m, startup=None):
    slow = 100.0 * m["slowdown"]
    own = "-"
    if startup is not None and m["samples"]:
        after = 1e6 * max(m["cpu"] - startup, 0.0) / m["samples"]
        steady = f"{after:.1f}"
        own = f"{after - m['floor']:.1f}"
    else:
        steady = "-"
    held = f"{m['held_ms_s']:.1f}" if mode == "blocking" else "-"
    asked = "full speed" if rate >= FULL_SPEED else str(rate)
    floor = f"{m['floor']:.1f}" if rate < FULL_SPEED else "0 (never waits)"
    return (f"| {tool} | {mode} | {asked} | {m['rate']:.1f} | {m['cpu_us']:.1f} | {steady} | {floor} "
            f"| {own} | {held} | {100.0 * m['incomplete']:.2f} | {slow:+.1f} |")


def main():
    if not PYSPY.exists() or not FLOOR.exists():
        sys.exit("build/py-spy or build/bench/floor is not built: run make bench")
    model, kernel, ncpu = machine()
    load0 = os.getloadavg()[0]
    lines = [
        "# py-spy benchmark",
        "",
        f"Machine: {model}, {ncpu} CPUs, Linux {kernel}.  "
        f"Generated by `make bench` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        f"Workload: bench/recurse.py, {DEPTH} levels of recursion ending in a CPU-bound "
        f"leaf, one thread.  Each figure is the median of {RUNS} runs of {SECONDS:g} s; "
        "the profiler records the whole run (`py-spy record -p PID -r RATE -o collapsed:FILE`).",
        "",
        "- rate: samples recorded per second of sampling;",
        "- CPU/sample: the profiler's user+sys CPU time (getrusage of children) per sample, "
        "and the same without py-spy's start-up cost (measured apart, a 10 ms recording);",
        "- floor: what one sleep and wake-up at that rate plus one 8-byte read of the target "
        "cost on this machine (build/bench/floor, measured while the workload runs alone "
        "before each recording): every sampler that waits between samples pays it;",
        "- own work: CPU/sample after start-up minus the floor;",
        "- full speed: a rate of 1 MHz asked, which no sampler reaches, so it never waits "
        "(austin: `-i 0`): its CPU per sample is the work of a sample alone;",
        "- held: milliseconds per second the target was held stopped (blocking mode);",
        "- incomplete: samples whose stack is not exactly <module>, main, 30 x rec, leaf.  "
        "Some are real (the loop in main, calls on their way down): the blocking rows, "
        "where every stack is consistent, give that baseline;",
        "- slowdown: 1 - the target's work rate under the profiler / alone, each run "
        "paired with a run alone just before it (negative: noise).",
        "",
    ]
    for name, py in interpreters():
        print(f"== {name}: {py}", flush=True)
        rows, alone = [], []
        startup = pyspy_startup(py)
        for rate in RATES + (FULL_SPEED,):
            for nb in (False, True):
                if rate >= FULL_SPEED and not nb:
                    continue  # a paused target at full speed would barely run
                mode = "nonblocking" if nb else "blocking"
                print(f"   py-spy {mode} {rate} Hz", flush=True)
                m = median_of(py, run_pyspy, rate, nb)
                alone.append(m["alone"])
                rows.append(row("py-spy", mode, rate, m, startup))
        if name.startswith("3.9"):
            for rate in RATES + (FULL_SPEED,):
                print(f"   austin {rate} Hz", flush=True)
                try:
                    m = median_of(py, run_austin, rate)
                    alone.append(m["alone"])
                    rows.append(row("austin 1.0.1", "nonblocking", rate, m))
                except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                    rows.append(f"| austin 1.0.1 | nonblocking | {rate} | failed: {e} ||||||||")
        lines += [f"## CPython {name}", "",
                  f"Work rate alone: {statistics.median(alone):.1f} rounds/s (median).  "
                  f"py-spy's start-up (attach, find the interpreter, write the output): "
                  f"{1e3 * startup:.0f} ms CPU.", "",
                  "| tool | mode | Hz asked | rate | CPU/sample (us) | CPU/sample after "
                  "start-up (us) | floor (us) | own work (us) | held (ms/s) | incomplete (%) "
                  "| slowdown (%) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"] + rows + [""]
    lines += [f"Load average (1 min) at the start: {load0:.1f}, at the end: "
              f"{os.getloadavg()[0]:.1f}.  On a machine shared with other work the "
              "slowdown and held-time figures include the time the target and py-spy "
              "waited for a CPU.", ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
