"""py-spy record end to end: accuracy of the time shares it reports,
blocking and not; signals reaching a paused target; --gil and --idle;
every output written whole on every way out (SIGINT, SIGTERM, target exit,
--duration); spawning a program; refusals that must come before sampling."""
import json
import os
import pathlib
import re
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import PYSPY, run_pyspy

PROGS = pathlib.Path(__file__).resolve().parent / "programs_record"
LINE = re.compile(r"^(.+) (\d+)$")


def raise_priority():
    """preexec_fn: run ahead of other work on the machine (root only)."""
    try:
        os.nice(-10)
    except OSError:
        pass


def start(interp, prog, *args, preexec_fn=None, env=None):
    """Start PROG under INTERP (with ENV added to its environment); returns
    the Popen once it printed ready."""
    interp.require()
    environ = interp.environ()
    environ.update(env or {})
    p = subprocess.Popen(interp.command(PROGS / prog, *args), env=environ,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=preexec_fn)
    line = p.stdout.readline()
    if not line.startswith("ready"):
        p.kill()
        pytest.fail(f"{interp.name} {prog} did not start: {line!r} {p.stderr.read()}")
    return p


def end(p):
    if p.poll() is None:
        p.kill()
    p.wait(timeout=30)


def parse_collapsed(text):
    """{stack: count} from collapsed text; every line must be well formed."""
    counts = {}
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, f"bad collapsed line {line!r}"
        assert m.group(1) not in counts, f"stack listed twice: {line!r}"
        counts[m.group(1)] = int(m.group(2))
    return counts


def leaf(stack):
    return stack.split(";")[-1].split(" (")[0]


def has_frame(stack, name):
    return any(f.split(" (")[0] == name for f in stack.split(";"))


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def children(pid):
    """The process ids of PID's children."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def running(pid):
    """Whether PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def reported_samples(stderr):
    """The N of every "Wrote ... Samples: N Errors: E" line."""
    return [int(n) for n in re.findall(r"Wrote .* to '.*'\. Samples: (\d+) Errors: \d+", stderr)]


# --- accuracy -----------------------------------------------------------

def record_between(args, snapshot):
    """Run py-spy ARGS (at raised priority); call snapshot() when it starts
    sampling and when it stops, so that what the target measured itself
    covers the very time py-spy sampled (not its start-up and exit).
    Returns (exit status, stderr, (first snapshot, second))."""
    rec = subprocess.Popen([str(PYSPY)] + [str(a) for a in args], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, preexec_fn=raise_priority)
    lines, snaps = [], []
    try:
        for line in rec.stderr:
            lines.append(line)
            if "Sampling process" in line or "Stopped sampling" in line:
                snaps.append(snapshot())
        rc = rec.wait(timeout=60)
    finally:
        if rec.poll() is None:
            rec.kill()
        rec.stderr.close()
    stderr = "".join(lines)
    assert len(snaps) == 2, stderr
    return rc, stderr, tuple(snaps)


def clock_report(p, path, seq, sig=signal.SIGUSR1):
    """Ask the program (shares.py: SIGUSR1, _snooze.py: SIGUSR2) for its
    report number SEQ, written to PATH."""
    os.kill(p.pid, sig)

    def written():
        try:
            return json.loads(path.read_text())["seq"] >= seq
        except (OSError, ValueError):
            return False

    wait_for(written, 30, f"report {seq} of the program")
    return json.loads(path.read_text())


def batch_se(values):
    """Standard error of the mean of values (one per recording)."""
    k = len(values)
    mean = sum(values) / k
    return (sum((v - mean) ** 2 for v in values) / (k - 1) / k) ** 0.5


def share_errors(windows):
    """For each of a, b, c: (py-spy's share, the program's, standard error of
    their difference, standard error of the program's), in points, over
    windows [({f: samples}, {f: seconds clocked}), ...]."""
    inside = sum(sum(w[0].values()) for w in windows)
    clocked = sum(sum(w[1].values()) for w in windows)
    seen = [w for w in windows if sum(w[0].values()) and sum(w[1].values())]
    out = {}
    for f in "abc":
        got = 100.0 * sum(w[0][f] for w in windows) / inside
        truth = 100.0 * sum(w[1][f] for w in windows) / clocked
        binomial = 100.0 * (truth / 100 * (1 - truth / 100) / inside) ** 0.5
        truths = [100.0 * w[1][f] / sum(w[1].values()) for w in seen]
        diffs = [100.0 * w[0][f] / sum(w[0].values()) - t for w, t in zip(seen, truths)]
        out[f] = (got, truth, max(binomial, batch_se(diffs)), batch_se(truths))
    return out


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_shares_are_accurate(heavy_interp, mode, tmp_path):
    """a/b/c take 50/30/20% of the time by construction; the program also
    clocks the time it spends in each over every recording (SIGUSR1 reads
    its clock before and after each), and py-spy's shares are held to that.
    On a busy machine the time the target waits for a CPU or is held
    stopped lands in whichever function it was in, for the program's clock
    and for py-spy alike, so both drift from 50/30/20; and when py-spy
    itself waits for a CPU, it catches up with a burst of samples of one
    instant, so samples are not independent.  Each share must lie within 4
    standard errors of the program's, the standard error being the larger
    of the binomial one and the one the recordings' scatter shows (batch
    means over the recordings); recordings go on until 4 standard errors
    are at most 4 points (75 s at most), and they must end up at most 5.
    The program's own shares lie within 4 of their standard errors plus 1
    point of 50/30/20."""
    report = tmp_path / "truth.json"
    # Both run ahead of other work on the machine when allowed (root).
    p = start(heavy_interp, "shares.py", 0, report, preexec_fn=raise_priority)
    out = tmp_path / "shares.txt"
    # 200 Hz: samples far enough apart to be independent of each other on
    # an idle machine; recordings of 5 s.
    args = ["record", "-p", p.pid, "-r", 200, "-d", 5, "-o", f"collapsed:{out}"]
    if mode == "nonblocking":
        args.append("--nonblocking")
    counts = {}
    windows = []          # ({f: samples}, {f: seconds clocked}) of each recording
    try:
        seq = [0]

        def snap():
            seq[0] += 1
            return clock_report(p, report, seq[0])

        for i in range(15):
            rc, stderr, (before, after) = record_between(args, snap)
            assert rc == 0, stderr
            assert "Stopped sampling because the duration elapsed" in stderr
            part = parse_collapsed(out.read_text())
            assert reported_samples(stderr) == [sum(part.values())]
            for s, n in part.items():
                counts[s] = counts.get(s, 0) + n
            windows.append(({f: sum(n for s, n in part.items() if leaf(s) == f) for f in "abc"},
                            {f: after[f] - before[f] for f in "abc"}))
            inside = sum(sum(w[0].values()) for w in windows)
            if (inside >= 3000 and len(windows) >= 4 and
                    all(4 * e[2] <= 4 for e in share_errors(windows).values())):
                break
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    finally:
        end(p)
    total = sum(counts.values())
    inside = sum(sum(w[0].values()) for w in windows)
    assert inside >= 0.9 * total, f"a/b/c only in {inside} of {total} samples: {counts}"
    assert inside >= 3000, f"only {inside} samples of a/b/c in {len(windows)} recordings\n{stderr}"
    for (f, nominal), (got, truth, se, truth_se) in zip((("a", 50), ("b", 30), ("c", 20)),
                                                       share_errors(windows).values()):
        assert abs(truth - nominal) <= 4 * truth_se + 1, (
            f"{f}: the program clocked {truth:.1f}% (standard error {truth_se:.2f}): {windows}")
        assert abs(got - truth) <= 4 * se, (
            f"{f}: py-spy {got:.1f}%, the program's clock {truth:.1f}% (nominal {nominal}%),"
            f" more than 4 standard errors of {se:.2f} points apart: {windows}")
        # The test must still tell a share that is 5 points off.
        assert 4 * se <= 5, f"{f}: too few or too scattered samples to judge ({se:.2f}): {windows}"
    # Every sample of a/b/c is called from main under <module>.
    for s in counts:
        if leaf(s) in "abc":
            assert has_frame(s, "main") and has_frame(s, "<module>"), s


# --- the target while it is being sampled --------------------------------

def test_signal_reaches_paused_target(heavy_interp, tmp_path):
    flag = tmp_path / "got-usr1"
    p = start(heavy_interp, "sleeper.py", flag)
    err = tmp_path / "err.txt"
    try:
        with open(err, "w") as ef:
            rec = subprocess.Popen([str(PYSPY), "record", "-p", str(p.pid), "-r", "500",
                                    "-d", "8", "--idle", "-o", f"collapsed:{tmp_path}/x.txt"],
                                   stdout=subprocess.DEVNULL, stderr=ef)
        wait_for(lambda: "Sampling process" in err.read_text(), 20, "sampling to start")
        time.sleep(0.5)
        os.kill(p.pid, signal.SIGUSR1)
        wait_for(flag.exists, 5, "the target's SIGUSR1 handler")
        assert rec.poll() is None, "the recording had already ended"
        assert rec.wait(timeout=30) == 0, err.read_text()
    finally:
        end(p)
    assert flag.read_text() == "got\n"
    assert p.returncode is not None


def sampling_instants(stderr, rate, secs):
    """(fewest, most) sampling instants of a recording of SECS at RATE.
    py-spy keeps a cumulative schedule (a late sample is caught up with)
    and says when it is 1 s or more behind: short of that, it took every
    instant due until 1 s before the end.  None for the fewest when it
    said it fell behind (it then calls its results inaccurate)."""
    most = int(rate * secs) + 1
    if "behind in sampling" in stderr:
        return None, most
    return int(rate * (secs - 1)), most


def record_for_3s(interp, prog, extra, tmp_path):
    """Record PROG for 3 s at 100 Hz with EXTRA options.  Returns its
    collapsed counts, py-spy's stderr and the share of the recording the
    main thread was awake (PROG uses _snooze.py; it says so on SIGUSR2).
    Raised priority (when allowed): on a busy machine a thread that py-spy
    has just let go waits for a CPU in state R, and is seen as running."""
    report = tmp_path / "awake.json"
    p = start(interp, prog, preexec_fn=raise_priority, env={"SNOOZE_REPORT": str(report)})
    out = tmp_path / "x.txt"
    args = ["record", "-p", p.pid, "-r", 100, "-d", 3, "-o", f"collapsed:{out}"] + extra
    seq = [0]

    def snap():
        seq[0] += 1
        return clock_report(p, report, seq[0], signal.SIGUSR2)

    try:
        rc, stderr, (before, after) = record_between(args, snap)
    finally:
        end(p)
    assert rc == 0, stderr
    awake = (after["awake"] - before["awake"]) / (after["elapsed"] - before["elapsed"])
    return parse_collapsed(out.read_text()), stderr, awake


def awake_allowance(instants, awake):
    """The most samples that may find a thread active that was awake for
    the share AWAKE of INSTANTS sampling instants: the expected count, 4
    standard errors, and 2 for instants at the edges of a wake-up."""
    expected = instants * awake
    return expected + 4 * expected ** 0.5 + 2


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
@pytest.mark.parametrize("flag", ["--gil", "--idle", "none"])
def test_idle_and_gil_filters(heavy_interp, flag, mode, tmp_path):
    extra = ([flag] if flag != "none" else []) + (["--nonblocking"] if mode == "nonblocking" else [])
    counts, stderr, awake = record_for_3s(heavy_interp, "sleeper.py", extra, tmp_path)
    total = sum(counts.values())
    fewest, most = sampling_instants(stderr, 100, 3)
    assert reported_samples(stderr) == [total], stderr
    if flag == "--idle":
        # The sleeping stack is kept in every sample: the program has one
        # thread, and it is always somewhere in snooze.
        sleeping = sum(n for s, n in counts.items() if has_frame(s, "snooze"))
        assert sleeping == total, counts
        assert fewest is not None, f"py-spy fell behind: {stderr}"
        assert fewest <= total <= most, f"{total} samples, not {fewest} to {most}: {stderr}"
    else:
        # Sleeping neither holds the GIL nor runs: only the time the
        # program says it was awake may show.
        allowed = awake_allowance(most, awake)
        assert total <= allowed, (f"{total} samples of a program asleep but {100 * awake:.1f}%"
                                  f" of the time (at most {allowed:.0f}): {counts}")


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_active_is_per_thread(heavy_interp, mode, tmp_path):
    """A thread that runs C code without the GIL is active; threads that
    sleep or wait for a lock are idle, whatever holds the GIL.  The thread
    waiting for the lock never wakes; the sleeping one may show only for
    the time the program says it was awake."""
    extra = ["--nonblocking"] if mode == "nonblocking" else []
    counts, stderr, awake = record_for_3s(heavy_interp, "mixed_threads.py", extra, tmp_path)
    fewest, most = sampling_instants(stderr, 100, 3)
    hashing = sum(n for s, n in counts.items() if leaf(s) == "hash_loop")
    sleeping = sum(n for s, n in counts.items() if has_frame(s, "snooze"))
    waiting = sum(n for s, n in counts.items() if has_frame(s, "wait_loop"))
    assert fewest is not None, f"py-spy fell behind: {stderr}"
    assert hashing >= 0.9 * fewest, f"{hashing} of {fewest} or more: {counts}"
    allowed = awake_allowance(most, awake)
    assert sleeping <= allowed, (f"{sleeping} active samples of a thread asleep but"
                                 f" {100 * awake:.1f}% of the time (at most {allowed:.0f}): {counts}")
    assert waiting <= 2, f"{waiting} active samples of a thread blocked on a lock: {counts}"


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_gil_holder_is_active(heavy_interp, mode, tmp_path):
    """A thread that sleeps without letting go of the GIL stops every other
    thread: it counts as active (py-spy would call it idle)."""
    extra = ["--nonblocking"] if mode == "nonblocking" else []
    p = start(heavy_interp, "gil_sleeper.py", preexec_fn=raise_priority)
    out = tmp_path / "x.txt"
    try:
        r = run_pyspy(["record", "-p", p.pid, "-r", 100, "-d", 3, "-o", f"collapsed:{out}"] + extra,
                      timeout=60, preexec_fn=raise_priority)
    finally:
        end(p)
    assert r.returncode == 0, r.stderr
    counts = parse_collapsed(out.read_text())
    fewest, _ = sampling_instants(r.stderr, 100, 3)
    holding = sum(n for s, n in counts.items() if leaf(s) == "hold")
    assert fewest is not None, f"py-spy fell behind: {r.stderr}"
    assert holding >= 0.9 * fewest, f"{holding} of {fewest} or more: {counts}"


# --- every way out writes every output whole -------------------------------

def check_outputs(tmp_path, stderr):
    svg = ET.parse(tmp_path / "a.svg").getroot()
    assert svg.tag.endswith("svg")
    counts = parse_collapsed((tmp_path / "b.txt").read_text())
    total = sum(counts.values())
    assert total > 0
    doc = json.loads((tmp_path / "c.json").read_text())
    nsamples = sum(len(prof["samples"]) for prof in doc["profiles"])
    assert nsamples == total, "speedscope and collapsed saw the same samples"
    assert reported_samples(stderr) == [total] * 3, stderr
    assert any(leaf(s) in "abc" for s in counts)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "exit", "duration"])
def test_outputs_complete_on_every_way_out(heavy_interp, how, tmp_path):
    p = start(heavy_interp, "shares.py", *(["3"] if how == "exit" else []))
    err = tmp_path / "err.txt"
    args = [str(PYSPY), "record", "-p", str(p.pid), "-r", "200",
            "-o", f"flamegraph:{tmp_path}/a.svg", "-o", f"collapsed:{tmp_path}/b.txt",
            "-o", f"speedscope:{tmp_path}/c.json"]
    if how == "duration":
        args += ["-d", "2"]
    rec = None
    try:
        with open(err, "w") as ef:
            rec = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=ef)
        wait_for(lambda: "Sampling process" in err.read_text(), 20, "sampling to start")
        if how in ("SIGINT", "SIGTERM"):
            time.sleep(1.5)
            rec.send_signal(getattr(signal, how))
        rc = rec.wait(timeout=60)
    finally:
        end(p)
        if rec and rec.poll() is None:
            rec.kill()
    stderr = err.read_text()
    assert rc == 0, stderr
    reason = {"SIGINT": "Control-C pressed", "SIGTERM": "SIGTERM",
              "exit": "process exited", "duration": "duration"}[how]
    assert re.search(r"Stopped sampling because .*" + reason, stderr), stderr
    check_outputs(tmp_path, stderr)
    assert "Held the process stopped for" in stderr


# --- spawning ------------------------------------------------------------

def test_spawn_raw_file(heavy_interp, tmp_path):
    heavy_interp.require()
    out = tmp_path / "x.txt"
    cmd = heavy_interp.command(PROGS / "shares.py")
    # The duration counts from the start of the program: on a busy machine
    # it may end before the program is under way; then twice as long.
    for seconds in (2, 4, 8, 16):
        r = run_pyspy(["record", "-o", out, "--format", "raw", "-d", seconds, "--"] + cmd,
                      env=heavy_interp.env, timeout=60)
        assert r.returncode == 0, r.stderr
        if re.search(r"ready (\d+)", r.stdout) and out.exists() and any(
                leaf(s) in "abc" for s in parse_collapsed(out.read_text())):
            break
    # The program kept our stdout; py-spy ended it when the recording did.
    m = re.search(r"ready (\d+)", r.stdout)
    assert m, r.stdout
    assert not os.path.exists(f"/proc/{m.group(1)}"), "the program outlived py-spy"
    counts = parse_collapsed(out.read_text())
    assert any(leaf(s) in "abc" for s in counts), counts
    assert "Stopped sampling because the duration elapsed" in r.stderr


def test_spawn_ended_by_sigint_ends_program(heavy_interp, tmp_path):
    heavy_interp.require()
    out = tmp_path / "x.txt"
    env = dict(os.environ)
    env.update(heavy_interp.env)
    rec = subprocess.Popen([str(PYSPY), "record", "-o", f"collapsed:{out}", "--"] +
                           heavy_interp.command(PROGS / "shares.py"), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = rec.stdout.readline()
        m = re.match(r"ready (\d+)", line)
        assert m, line
        # py-spy says when it samples (it may still be finding the
        # interpreter when the program is ready)
        first = [rec.stderr.readline()]
        while first[-1] and "Sampling process" not in first[-1]:
            first.append(rec.stderr.readline())
        assert first[-1], f"py-spy never started sampling: {''.join(first)}"
        time.sleep(1.5)
        rec.send_signal(signal.SIGINT)  # to py-spy alone, not to the program
        _, stderr = rec.communicate(timeout=60)
        stderr = "".join(first) + stderr
    finally:
        if rec.poll() is None:
            rec.kill()
    assert rec.returncode == 0, stderr
    assert "Stopped sampling because Control-C pressed" in stderr
    assert not os.path.exists(f"/proc/{m.group(1)}"), "the program outlived py-spy"
    counts = parse_collapsed(out.read_text())
    assert reported_samples(stderr) == [sum(counts.values())]
    assert any(leaf(s) in "abc" for s in counts), counts


def test_spawn_to_stdout_keeps_stdout_clean(heavy_interp, tmp_path):
    heavy_interp.require()
    cmd = heavy_interp.command(PROGS / "shares.py", "2")
    r = run_pyspy(["record", "-o", "collapsed", "--"] + cmd, env=heavy_interp.env, timeout=60)
    assert r.returncode == 0, r.stderr
    counts = parse_collapsed(r.stdout)
    assert sum(counts.values()) > 0
    assert re.search(r"ready \d+", r.stderr), "the program's stdout went to stderr"
    assert "Stopped sampling because process exited" in r.stderr


# --- choosing outputs ----------------------------------------------------

def test_format_from_extension_and_flag(heavy_interp, tmp_path):
    """-o PATH: the format comes from -f, else the extension, else flamegraph."""
    p = start(heavy_interp, "sleeper.py")
    try:
        r = run_pyspy(["record", "-p", p.pid, "-r", 50, "-d", 1, "--idle",
                       "-o", tmp_path / "a.json", "-o", tmp_path / "b.txt",
                       "-o", tmp_path / "c.noext", "-o", f"raw:{tmp_path}/d.svg"])
        assert r.returncode == 0, r.stderr
        r2 = run_pyspy(["record", "-p", p.pid, "-r", 50, "-d", 1, "--idle",
                        "-f", "SpeedScope", "-o", tmp_path / "e.txt"])
        assert r2.returncode == 0, r2.stderr
    finally:
        end(p)
    assert json.loads((tmp_path / "a.json").read_text())["profiles"]
    assert any(has_frame(s, "snooze") for s in parse_collapsed((tmp_path / "b.txt").read_text()))
    assert ET.parse(tmp_path / "c.noext").getroot().tag.endswith("svg")
    assert parse_collapsed((tmp_path / "d.svg").read_text())
    assert json.loads((tmp_path / "e.txt").read_text())["profiles"]
    assert "Wrote speedscope file to" in r.stderr and "Wrote flamegraph data to" in r.stderr


# --- refusals ------------------------------------------------------------

def test_dump_output_refused(pyspy):
    r = run_pyspy(["record", "-p", os.getpid(), "--output", "dump"])
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "'dump' cannot be used with record" in lines[0]
    assert "Sampling" not in r.stderr


def test_bad_output_path_fails_before_sampling(heavy_interp, tmp_path):
    heavy_interp.require()
    bad = tmp_path / "no" / "such" / "dir" / "x.svg"
    # (no sampling and no program started: nothing waited for the 5 s)
    r = run_pyspy(["record", "-o", bad, "-d", 5, "--"] +
                  heavy_interp.command(PROGS / "shares.py"), env=heavy_interp.env)
    assert r.returncode == 1
    assert str(bad) in r.stderr
    assert "Sampling" not in r.stderr
    assert "ready" not in r.stdout, "the program was started"
    p = start(heavy_interp, "sleeper.py")
    try:
        r = run_pyspy(["record", "-p", p.pid, "-o", f"collapsed:{bad}"])
    finally:
        end(p)
    assert r.returncode == 1 and "Sampling" not in r.stderr and str(bad) in r.stderr


# --- top -------------------------------------------------------------------

def test_top_keeps_last_view_until_key(heavy_interp):
    """top on a spawned program in a terminal: after the program exits, top
    stays until a key is pressed, then shows what the program printed."""
    import pty
    heavy_interp.require()
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="120", LINES="40")
    env.update(heavy_interp.env)
    top = subprocess.Popen([str(PYSPY), "top", "--delay", "0.5", "--"] +
                           heavy_interp.command(PROGS / "shares.py", "2"),
                           stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    screen = bytearray()

    def drain():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            screen.extend(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # the program runs 2 s once started; then top waits for a key
        kids = []

        def child():
            kids[:] = children(top.pid)
            return kids

        wait_for(child, 60, "top to start the program")
        wait_for(lambda: not running(kids[0]), 60, "the program to end")
        time.sleep(0.5)
        assert top.poll() is None, "top ended without a key: " + screen.decode(errors="replace")
        os.write(master, b"q")
        assert top.wait(timeout=20) == 0
    finally:
        if top.poll() is None:
            top.kill()
        reader.join(timeout=5)
        os.close(master)
    text = screen.decode(errors="replace")
    # (curses redraws only what changed: whole labels are not always there)
    assert "shares.py" in text
    # The program's output, held back while top owned the screen, comes
    # after top gave the screen back (rmcup: ESC [ ? 1049 l).
    assert "\x1b[?1049l" in text
    assert re.search(r"ready \d+", text.split("\x1b[?1049l")[-1]), text[-500:]


def test_samples_line_says_it_counts_stacks(tmp_path, pyspy):
    """"Samples: N" counts stacks, one per thread per tick: with the main
    thread and a second one both busy, N is the collapsed file's total and
    the line says so after py-spy's own "Samples: N Errors: E"."""
    prog = tmp_path / "two.py"
    prog.write_text("import threading, time\n"
                    "def spin():\n"
                    "    t = time.time()\n"
                    "    while time.time() - t < 0.8:\n"
                    "        pass\n"
                    "th = threading.Thread(target=spin)\n"
                    "th.start()\n"
                    "spin()\n"
                    "th.join()\n")
    r = subprocess.run([str(pyspy), "record", "-r", "100", "-f", "raw", "-o", "out.txt", "--",
                        "/usr/bin/python3.11", "two.py"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = re.search(r"Wrote .* to 'out\.txt'\. Samples: (\d+) Errors: \d+ "
                  r"\(samples count stacks: one per thread per tick\)$", r.stderr, re.M)
    assert m, r.stderr
    total = sum(int(l.rsplit(" ", 1)[1]) for l in (tmp_path / "out.txt").read_text().splitlines())
    assert int(m.group(1)) == total and total > 0
    spins = [l for l in (tmp_path / "out.txt").read_text().splitlines() if "spin (two.py:" in l]
    assert any("run (" in l for l in spins) and any("run (" not in l for l in spins), spins
