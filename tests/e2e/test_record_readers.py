"""The record outputs opened by the real readers people use.

One real `py-spy record` of a real program (programs_record/readers.py:
two busy threads, one named ReaderWorker) writes four files at once:
pprof, collapsed, speedscope and chrometrace.  Then:

- pprof: `go tool pprof -raw` and `-top` (Debian's golang-go) read it and
  show exactly the stacks, lines, counts and labels of the collapsed file
  of the same run;
- pprof, chrometrace and speedscope: speedscope's own release build, in
  headless Chromium, imports each file as a user does (Browse, a file
  chooser) and saves what it made of it (tests/e2e/speedscope_import.js);
  its threads, names, frames and times are checked against the collapsed
  file of the same run.

A reader that is not installed (scripts/deps.sh installs them all) is a
skip that names it, never a pass.
"""
import ast
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import run_pyspy
from test_record import end, parse_collapsed, start
from test_record_formats import big, big_in, feed  # noqa: F401  (fixtures)

HERE = pathlib.Path(__file__).resolve().parent
IMPORTER = HERE / "speedscope_import.js"
RATE = 100
PERIOD_NS = 10_000_000            # 1e9 / RATE
FRAME = re.compile(r"^(.*) \((.*?)(?::(\d+))?\)$")  # collapsed: name (file:line)


def npm_prefix():
    return pathlib.Path(os.environ.get("PYSPY_NPM") or
                        pathlib.Path(os.environ.get("XDG_CACHE_HOME") or
                                     pathlib.Path.home() / ".cache") / "pyspy-npm")


def speedscope_missing():
    """Why speedscope cannot be run here, or None."""
    node = shutil.which("node") or shutil.which("nodejs")
    chromium = shutil.which("chromium")
    prefix = npm_prefix()
    if not node:
        return "node (Debian package nodejs) is not installed"
    if not chromium:
        return "chromium (Debian package chromium) is not installed"
    for pkg, probe in (("speedscope", "dist/release/index.html"),
                       ("puppeteer-core", "package.json")):
        if not (prefix / "node_modules" / pkg / probe).exists():
            return f"npm package {pkg} is not in {prefix} (run scripts/deps.sh)"
    return None


def collapsed_key(stack):
    """A collapsed stack as ((name, file base name, line), ...), root first."""
    out = []
    for label in stack.split(";"):
        m = FRAME.match(label)
        assert m, label
        out.append((m.group(1), os.path.basename(m.group(2)), int(m.group(3) or 0)))
    return tuple(out)


# One recording per interpreter, shared by the tests of this file.
_RUNS = {}


def recording(interp, tmp_path_factory):
    if interp.name in _RUNS:
        return _RUNS[interp.name]
    d = tmp_path_factory.mktemp(f"readers-{interp.name}")
    target = start(interp, "readers.py")
    try:
        files = {"pprof": d / "profile.pb.gz", "collapsed": d / "profile.txt",
                 "speedscope": d / "profile.json", "chrometrace": d / "profile.trace"}
        proc = run_pyspy(["record", "--pid", target.pid, "-d", "3", "-r", RATE,
                          "-o", files["pprof"], "-o", f"collapsed:{files['collapsed']}",
                          "-o", files["speedscope"],
                          "-o", f"chrometrace:{files['chrometrace']}"], timeout=120)
    finally:
        end(target)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote pprof profile to" in proc.stderr, proc.stderr
    collapsed = parse_collapsed(files["collapsed"].read_text())
    assert any(collapsed_key(s)[-1][0] == "reader_leaf" for s in collapsed)
    run = {"dir": d, "files": files, "pid": target.pid, "stderr": proc.stderr,
           "collapsed": {}, "exports": None}
    for stack, count in collapsed.items():
        run["collapsed"][collapsed_key(stack)] = count
    _RUNS[interp.name] = run
    return run


def speedscope_exports(run):
    """What speedscope made of our pprof, speedscope and chrometrace files."""
    if run["exports"] is None:
        why = speedscope_missing()
        if why:
            pytest.skip(f"speedscope cannot be run: {why}")
        args = []
        out = {}
        for fmt in ("pprof", "speedscope", "chrometrace"):
            out[fmt] = run["dir"] / f"speedscope-of-{fmt}.json"
            args += [str(run["files"][fmt]), str(out[fmt])]
        proc = subprocess.run([shutil.which("node") or shutil.which("nodejs"), str(IMPORTER),
                               str(npm_prefix()), shutil.which("chromium"), *args],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        run["exports"] = {fmt: json.loads(p.read_text()) for fmt, p in out.items()}
    return run["exports"]


def replay(profile, frames, key_of):
    """Time per stack of one of speedscope's saved profiles: {stack: time}.

    speedscope saves what it imported as evented profiles (open and close
    events in time order); a sampled one is turned into stacks and weights
    the same way.  key_of(frame) names a frame."""
    out = {}
    if profile["type"] == "sampled":
        for sample, weight in zip(profile["samples"], profile["weights"]):
            key = tuple(key_of(frames[i]) for i in sample)
            out[key] = out.get(key, 0) + weight
        return out
    assert profile["type"] == "evented", profile["type"]
    stack, last = [], profile["startValue"]
    for ev in profile["events"]:
        if stack and ev["at"] > last:
            key = tuple(key_of(frames[i]) for i in stack)
            out[key] = out.get(key, 0) + ev["at"] - last
        last = ev["at"]
        if ev["type"] == "O":
            stack.append(ev["frame"])
        else:
            assert stack and stack[-1] == ev["frame"], ev
            stack.pop()
    assert not stack
    return out


def file_frame(f):
    return (f["name"], os.path.basename(f.get("file", "")), f.get("line", 0))


def trace_frame(f):
    """speedscope names a trace event's frame `NAME {ARGS as JSON}`."""
    name, _, args = f["name"].partition(" {")
    args = json.loads("{" + args) if args else {}
    return (name, os.path.basename(args.get("filename", "")), args.get("line", 0))


# --- go tool pprof --------------------------------------------------------------

def go_pprof(*args):
    go = shutil.which("go")
    if not go:
        pytest.skip("go tool pprof cannot be run: go (Debian package golang-go) is not installed")
    proc = subprocess.run([go, "tool", "pprof", *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PPROF_TMPDIR="/tmp"))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def parse_raw(text):
    """go tool pprof -raw: header, samples [(values, location ids, labels)] and
    locations {id: (name, file, line)}."""
    head, _, rest = text.partition("\nSamples:\n")
    samples_text, _, rest = rest.partition("\nLocations\n")
    locations_text = rest.split("\nMappings\n")[0]
    header = dict(line.split(": ", 1) for line in head.splitlines() if ": " in line)
    lines = samples_text.splitlines()
    types = lines[0].split()
    samples = []
    for line in lines[1:]:
        m = re.match(r"^\s+(\d+)\s+(\d+): ([\d ]+)$", line.rstrip() + " ")
        if m:
            samples.append(((int(m.group(1)), int(m.group(2))),
                            [int(x) for x in m.group(3).split()], {}))
            continue
        assert samples and line.startswith(" "), line
        samples[-1][2].update(re.findall(r"(\w+):\[([^\]]*)\]", line))
    locations = {}
    for line in locations_text.splitlines():
        m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ M=\d+ (\S+) (.+):(\d+) s=(\d+)", line)
        assert m, line
        locations[int(m.group(1))] = (m.group(2), m.group(3), int(m.group(4)))
    return header, types, samples, locations


def test_pprof_raw_matches_collapsed(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    header, types, samples, locations = parse_raw(go_pprof("-raw", run["files"]["pprof"]))
    assert types == ["samples/count", "cpu/nanoseconds"]
    assert header["PeriodType"] == "cpu nanoseconds"
    assert header["Period"] == str(PERIOD_NS)
    assert 2.5 < float(header["Duration"]) < 10, header
    stacks = {}
    threads = {}
    for (count, ns), ids, labels in samples:
        assert ns == count * PERIOD_NS
        key = tuple((locations[i][0], os.path.basename(locations[i][1]), locations[i][2])
                    for i in reversed(ids))
        stacks[key] = stacks.get(key, 0) + count
        assert labels["pid"] == str(run["pid"]), labels
        names = [f[0] for f in key]
        # the labels say which thread ran the stack
        if "reader_worker" in names:
            assert labels.get("thread_name") == "ReaderWorker", (labels, names)
        elif "reader_main" in names:
            assert labels.get("thread_name") == "MainThread", (labels, names)
            assert labels["thread_id"] == str(run["pid"]), labels
        threads.setdefault(labels.get("thread_name"), set()).add(labels["thread_id"])
    # the same run's collapsed file: the same stacks, lines and counts
    assert stacks == run["collapsed"]
    assert len(threads["ReaderWorker"]) == 1 and threads["ReaderWorker"] != {str(run["pid"])}
    # full file names in the profile
    assert any(f.endswith("/programs_record/readers.py") for _, f, _ in locations.values())


def test_pprof_top_matches_collapsed(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    text = go_pprof("-top", "-sample_index=samples", "-nodefraction=0", "-nodecount=100000",
                    run["files"]["pprof"])
    flat, cum = {}, {}
    for stack, count in run["collapsed"].items():
        names = [f[0] for f in stack]
        flat[names[-1]] = flat.get(names[-1], 0) + count
        for name in set(names):
            cum[name] = cum.get(name, 0) + count
    total = sum(run["collapsed"].values())
    assert re.search(rf"Total samples = {total}\b", text), text[:500]
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+[\d.]+%\s+[\d.]+%\s+(\d+)\s+[\d.]+%\s+(\S+)$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    for name in ("reader_leaf", "reader_main", "reader_worker"):
        assert rows.get(name) == (flat.get(name, 0), cum[name]), (name, rows.get(name), text)


# --- speedscope -----------------------------------------------------------------

def test_speedscope_imports_pprof(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    doc = speedscope_exports(run)["pprof"]
    frames = doc["shared"]["frames"]
    assert len(doc["profiles"]) == 1        # speedscope's pprof import: one profile
    prof = doc["profiles"][0]
    assert prof["unit"] == "nanoseconds"
    # speedscope makes one frame of a function (pprof's Function), whatever
    # the line: compare stacks of (name, file)
    got = replay(prof, frames, lambda f: file_frame(f)[:2])
    want = {}
    for stack, count in run["collapsed"].items():
        key = tuple(f[:2] for f in stack)
        want[key] = want.get(key, 0) + count
    assert {k: round(v / PERIOD_NS) for k, v in got.items()} == want
    assert any(f["name"] == "reader_leaf" and f["file"].endswith("/readers.py")
               for f in frames)


def thread_stacks(doc, unit, key_of):
    """{profile name: {stack: time}} of speedscope's saved profiles, each
    checked to hold only its own thread's stacks."""
    out = {}
    for prof in doc["profiles"]:
        assert prof["unit"] == unit
        per = replay(prof, doc["shared"]["frames"], key_of)
        mark = "reader_main" if "MainThread" in prof["name"] else "reader_worker"
        assert all(mark in [f[0] for f in k] for k in per), (prof["name"], list(per))
        out[prof["name"]] = per
    return out


def test_speedscope_imports_speedscope(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    doc = speedscope_exports(run)["speedscope"]
    names = sorted(p["name"] for p in doc["profiles"])
    assert len(names) == 2, names
    assert names[0] == f'Thread {run["pid"]} "MainThread"'
    assert re.fullmatch(r'Thread \d+ "ReaderWorker"', names[1]), names
    total = {}
    for per in thread_stacks(doc, "seconds", file_frame).values():
        for k, v in per.items():
            total[k] = total.get(k, 0) + v
    assert {k: round(v * RATE) for k, v in total.items()} == run["collapsed"]


def test_speedscope_imports_chrometrace(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    doc = speedscope_exports(run)["chrometrace"]
    names = sorted(p["name"] for p in doc["profiles"])
    assert len(names) == 2, names
    # py-spy's track names, "TID: NAME", and speedscope's (pid, tid) after them
    assert re.fullmatch(rf'{run["pid"]}: MainThread \(pid {run["pid"]}, tid \d+\)',
                        names[0]), names
    assert re.fullmatch(rf'\d+: ReaderWorker \(pid {run["pid"]}, tid \d+\)', names[1]), names
    seen = set()
    for per in thread_stacks(doc, "microseconds", trace_frame).values():
        # a thread's slices cover at most the recording (3 s, in microseconds)
        assert 0 < sum(per.values()) <= 4e6
        seen |= set(per)
    # every stack of the run, with its files and lines, and no other
    assert seen == set(run["collapsed"])


def test_pprof_start_lines_are_the_functions_first_lines(heavy_interp, tmp_path_factory):
    run = recording(heavy_interp, tmp_path_factory)
    _, _, _, locations = parse_raw(go_pprof("-raw", run["files"]["pprof"]))
    text = go_pprof("-raw", run["files"]["pprof"])
    starts = dict(re.findall(r"M=\d+ (reader_\w+) \S+:\d+ s=(\d+)", text))
    tree = ast.parse((HERE / "programs_record" / "readers.py").read_text())
    want = {n.name: str(n.lineno) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert starts and all(starts[name] == want[name] for name in starts), (starts, want)
    assert set(starts) == {"reader_leaf", "reader_main", "reader_worker"}
    assert locations


# --- the modules fed without the sampler (tests/helpers/feed_output) -----------

def test_pprof_100k_unique_stacks(tmp_path, big, big_in):
    out = tmp_path / "big.pb.gz"
    secs, proc = feed("pprof", out, big_in, "-l", "-r", "250")
    assert proc.returncode == 0, proc.stderr
    assert secs < 10, f"pprof took {secs:.1f} CPU seconds for 100,000 stacks"
    header, types, samples, locations = parse_raw(go_pprof("-raw", out))
    assert header["Period"] == "4000000"
    want = {}
    for _, tid, count, tname, frames in big:
        key = (tuple(frames), str(tid), tname)
        want[key] = want.get(key, 0) + count
    got = {}
    for (count, ns), ids, labels in samples:
        assert ns == count * 4000000
        key = (tuple(locations[i] for i in reversed(ids)), labels["thread_id"],
               labels["thread_name"])
        assert labels["pid"] == "55"
        got[key] = got.get(key, 0) + count
    assert got == want


def test_pprof_names_made_valid(tmp_path):
    stacks = [(3, 1, 2, "th\x01r\udcffead", [("<module>", "/p/m.py", 1, 1),
                                           ("ctl\x01\x02", "/p/q\"\\.py", 2, 2),
                                           ("bad\udcffx", "/p/\u00e9.py", 3, 3)])]
    out = tmp_path / "e.pprof"
    _, proc = feed("pprof", out, stacks, "-l")
    assert proc.returncode == 0, proc.stderr
    _, _, samples, locations = parse_raw(go_pprof("-raw", out))
    assert sorted(locations.values()) == [("<module>", "/p/m.py", 1), ("bad\ufffdx", "/p/\u00e9.py", 3),
                                          ("ctl??", "/p/q\"\\.py", 2)]
    assert samples[0][0] == (2, 20000000)
    assert samples[0][2]["thread_name"] == "th?r\ufffdead"
    starts = re.findall(r"s=(\d+)", go_pprof("-raw", out))
    assert sorted(starts) == ["1", "2", "3"]


def trace_events(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, list)
    for ev in doc:
        assert ev["ph"] in ("M", "B", "E"), ev
        assert isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
    return doc


def test_chrometrace_slices_merge_and_end(tmp_path):
    """Thread 7 runs f twice then g, then is missing from the next sample
    (thread 8's): its frames end there; thread 8's end one interval after
    the last sample."""
    stacks = [(1, 7, 2, "Main", [("main", "/a/x.py", 1), ("f", "/a/x.py", 5)]),
              (1, 7, 1, "Main", [("main", "/a/x.py", 1), ("g", "/a/x.py", 9)]),
              (1, 8, 1, None, [("w", "/a/y.py", 3)])]
    out = tmp_path / "t.json"
    _, proc = feed("chrometrace", out, stacks, "-l", "-r", "100")
    assert proc.returncode == 0, proc.stderr
    doc = trace_events(out)
    meta = [(e["tid"], e["args"]["name"]) for e in doc if e["ph"] == "M"]
    assert meta == [(0, "7: Main"), (1, "8")]
    got = [(e["tid"], e["ph"], e["name"], e["ts"], e["args"].get("line")) for e in doc
           if e["ph"] != "M"]
    assert got == [(0, "B", "main", 0, 1), (0, "B", "f", 0, 5),
                   (0, "E", "f", 20000, 5), (0, "B", "g", 20000, 9),
                   (0, "E", "g", 30000, 9), (0, "E", "main", 30000, 1),
                   (1, "B", "w", 30000, 3), (1, "E", "w", 40000, 3)]
    assert all(e["args"]["filename"].startswith("/a/") for e in doc if e["ph"] != "M")


def test_chrometrace_escapes_and_pseudo_frames(tmp_path):
    stacks = [(3, 1, 1, 'th"r\\ead\x01', ["!thread (1)", ("ctl\x01\x02", "/p/q\"\\.py", 2),
                                         ("bad\udcffx", "/p/\u00e9.py", 0)])]
    out = tmp_path / "e.json"
    _, proc = feed("chrometrace", out, stacks, "-l")
    assert proc.returncode == 0, proc.stderr
    doc = trace_events(out)
    assert doc[0]["args"]["name"] == '1: th"r\\ead\x01'
    begun = [e for e in doc if e["ph"] == "B"]
    assert begun[0]["name"] == "thread (1)" and begun[0]["args"] == {}
    assert begun[1]["name"] == "ctl\x01\x02" and begun[1]["args"] == {"filename": '/p/q"\\.py',
                                                                      "line": 2}
    assert begun[2]["name"] == "bad\ufffdx" and begun[2]["args"] == {"filename": "/p/\u00e9.py"}


def test_chrometrace_many_unique_stacks(tmp_path, big):
    """10,000 distinct stacks (each a change of every frame below the root:
    about 16 MB of events, which is what the format costs)."""
    out = tmp_path / "big.json"
    secs, proc = feed("chrometrace", out, big[:10_000], "-l")
    assert proc.returncode == 0, proc.stderr
    assert secs < 10, f"chrometrace took {secs:.1f} CPU seconds for 10,000 stacks"
    doc = trace_events(out)
    open_frames = {}
    for e in doc:
        if e["ph"] == "B":
            open_frames.setdefault(e["tid"], []).append(e["name"])
        elif e["ph"] == "E":
            assert open_frames[e["tid"]].pop() == e["name"], e
    assert all(not v for v in open_frames.values())
    leaves = {e["name"] for e in doc if e["ph"] == "B" and e["name"].startswith("leaf_")}
    assert len(leaves) == 10_000


def test_file_names_choose_the_format(heavy_interp, tmp_path):
    """.pb.gz and .pprof mean pprof, .json stays speedscope, .trace.json is
    chrometrace's own; -f chrometrace and -f pprof choose them whatever the
    name.  pprof's sample type is cpu, or wall with --idle."""
    runs = [["-o", tmp_path / "a.pprof", "-o", tmp_path / "b.PB.GZ",
             "-o", tmp_path / "c.json", "-o", tmp_path / "d.trace.json"],
            ["-f", "chrometrace", "-o", tmp_path / "e.json"],
            ["--idle", "-f", "pprof", "-o", tmp_path / "f.out"]]
    p = start(heavy_interp, "readers.py")
    try:
        done = [run_pyspy(["record", "-p", p.pid, "-r", 50, "-d", 1, *args]) for args in runs]
    finally:
        end(p)
    for r in done:
        assert r.returncode == 0, r.stderr
    for name in ("a.pprof", "b.PB.GZ", "f.out"):
        assert (tmp_path / name).read_bytes()[:2] == b"\x1f\x8b", name   # gzip
        assert "reader_leaf" in go_pprof("-raw", tmp_path / name)
    # idle threads recorded too: the time is wall time, not CPU time
    assert "samples/count wall/nanoseconds" in go_pprof("-raw", tmp_path / "f.out")
    assert "samples/count cpu/nanoseconds" in go_pprof("-raw", tmp_path / "a.pprof")
    assert json.loads((tmp_path / "c.json").read_text())["profiles"]
    for name in ("d.trace.json", "e.json"):
        doc = trace_events(tmp_path / name)
        assert any(e["ph"] == "B" and e["name"] == "reader_leaf" for e in doc), name
    for name in ("a.pprof", "b.PB.GZ", "c.json", "d.trace.json"):
        assert re.search(rf"Wrote .* to '.*/{re.escape(name)}'", done[0].stderr), name
