"""`py-spy dump` against every interpreter, compared exactly with what
CPython says of its own threads.

Each program in tests/e2e/programs/ blocks its threads in known places and
writes, from inside, every thread's name, ident, native id and frames
(function, file, line; innermost first) to a JSON file.  The test dumps the
process with --full-filenames, without it (short filenames), with --json
and with --nonblocking, and compares every thread's every frame.

The programs of one interpreter are started together (in parallel) the
first time a test of that interpreter runs, and killed when the tests move
on to the next interpreter (or at the end).
"""
import difflib
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS_DIR = ROOT / "tests" / "e2e" / "programs"
PYSPY = ROOT / "build" / "py-spy"

PROGRAMS = ["base", "blocking", "unicode", "recursion", "generators", "coroutines",
            "nested", "comprehensions", "methods", "module_level", "exec_made_up",
            "many_threads", "churn"]

REPORT_TIMEOUT = 40      # seconds for a program to report its threads
DUMP_TIMEOUT = 30
CHURN_DUMPS = 5          # dumps of the churning program (threads ending under us)

HEADER_RE = re.compile(r'^Thread (0x[0-9A-F]+|\d+) \((idle|active|active\+gil)\)(?:: "(.*)")?$')


# --- starting the programs ----------------------------------------------------

def launch_argv(interp, script, *args):
    if hasattr(interp, "command"):
        return [str(a) for a in interp.command(str(script), *[str(a) for a in args])]
    return list(interp.argv) + [str(script)] + [str(a) for a in args]


def launch_env(interp):
    if hasattr(interp, "environ"):
        env = dict(interp.environ())
    else:
        env = dict(os.environ)
        env.update(getattr(interp, "env", None) or {})
    # Non-ASCII file names need a UTF-8 file system encoding (3.6 in "C").
    env["LC_ALL"] = "C.UTF-8"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PROGRAMS_DIR) + (os.pathsep + path if path else "")
    return env


class Program:
    """One target program started by one interpreter."""

    def __init__(self, interp, name, workdir, cwd=None, preexec_fn=None):
        self.name = name
        self.report_path = os.path.join(workdir, name + ".json")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.report = None
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                launch_argv(interp, PROGRAMS_DIR / (name + ".py"), self.report_path),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env=launch_env(interp), cwd=str(cwd or PROGRAMS_DIR), preexec_fn=preexec_fn)
        self.started = time.monotonic()

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def wait_report(self):
        if self.report is not None:
            return self.report
        while not os.path.exists(self.report_path):
            if self.proc.poll() is not None and not os.path.exists(self.report_path):
                pytest.fail("program %s exited (%s) before reporting:\n%s"
                            % (self.name, self.proc.returncode, self.stderr()))
            if time.monotonic() - self.started > REPORT_TIMEOUT:
                pytest.fail("program %s did not report within %ds:\n%s"
                            % (self.name, REPORT_TIMEOUT, self.stderr()))
            time.sleep(0.05)
        with open(self.report_path) as f:
            self.report = json.load(f)
        return self.report

    def kill(self):
        pids = {self.proc.pid}
        if self.report and self.report.get("pid"):
            pids.add(self.report["pid"])   # a launcher may have run it as a child
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for d in (self.report or {}).get("tempdirs") or []:
            shutil.rmtree(d, ignore_errors=True)


class Pool:
    """The programs of the interpreter being tested."""

    def __init__(self, selected):
        self.selected = selected  # interpreter name -> programs of the selected tests
        self.interp_name = None
        self.programs = {}
        self.workdir = None

    def get(self, interp, name):
        if self.interp_name != interp.name:
            self.stop()
            self.interp_name = interp.name
            self.workdir = tempfile.mkdtemp(prefix="pyspy-dump-exact-")
            for p in PROGRAMS:
                if p in self.selected.get(interp.name, PROGRAMS):
                    self.programs[p] = Program(interp, p, self.workdir)
        if name not in self.programs:
            self.programs[name] = Program(interp, name, self.workdir)
        return self.programs[name]

    def stop(self):
        for prog in self.programs.values():
            prog.kill()
        self.programs = {}
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None
        self.interp_name = None


@pytest.fixture(scope="module")
def pool(request):
    # Start only the programs of the tests selected (-k) in this session.
    selected = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.originalname == "test_dump_exact" and "interp" in params:
            selected.setdefault(params["interp"].name, set()).add(params["program"])
    p = Pool(selected)
    try:
        yield p
    finally:
        p.stop()


# --- what the dump should say ------------------------------------------------

def short_filename(path):
    """py-spy's short name: strip the folders above the highest package."""
    if "/" not in path:
        return path
    base = os.path.dirname(path)
    while base not in ("", "/") and os.path.exists(os.path.join(base, "__init__.py")):
        base = os.path.dirname(base)
    return path[len(base):].lstrip("/") if base else path


def frame_text(frame, full):
    name, filename, line = frame
    f = filename if full else short_filename(filename)
    return "    %s (%s:%d)" % (name, f, line) if line else "    %s (%s)" % (name, f)


def cpython_native_ids(rep):
    """CPython itself reports native ids (threading.get_native_id, 3.8+)."""
    return rep.get("native_id_source") == "cpython"


def ignorable(rep, ident=None, native=None, name=None, frames=None):
    """Whether an unreported thread listed by a dump may be left aside:
    the reporter, a thread the program said moves, or (frames: a list of
    (function, file)) an unnamed thread in only the functions it named."""
    r = rep["reporter"]
    if ident is not None and (ident == r["ident"] or ident in rep["ignore_idents"]):
        return True
    if native is not None and (native == r["native_id"] or
                               native in rep.get("ignore_native_ids", [])):
        return True
    if name is not None:
        return any(name.startswith(p) for p in rep["ignore_name_prefixes"])
    funcs = rep.get("ignore_functions") or []
    if funcs and frames is not None:
        return all(f in funcs or os.path.basename(file) == "threading.py"
                   for f, file in frames)
    return False


FRAME_RE = re.compile(r"^    (.*) \((.*?)(?::\d+)?\)$")


def text_frames(lines):
    out = []
    for line in lines:
        m = FRAME_RE.match(line)
        out.append((m.group(1), m.group(2)) if m else (line, ""))
    return out


def diff(want, got):
    lines = list(difflib.unified_diff(want, got, "cpython", "py-spy", lineterm="", n=2))
    if len(lines) > 40:
        lines = lines[:40] + ["... (%d more diff lines)" % (len(lines) - 40)]
    return "\n".join(lines)


def run_dump(pid, *args):
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return subprocess.run([str(PYSPY), "dump", "--pid", str(pid)] + list(args),
                          capture_output=True, timeout=DUMP_TIMEOUT, env=env)


def decode(problems, what, r):
    """stdout as text, or None with a problem noted."""
    if r.returncode != 0:
        problems.append("%s: exit %d, stderr: %s" % (what, r.returncode,
                                                    r.stderr.decode("utf-8", "replace").strip()))
        return None
    try:
        return r.stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        problems.append("%s: output is not UTF-8: %s" % (what, e))
        return None


def parse_text(out):
    """(header lines, [(id, status, name, [frame lines])])"""
    blocks = out.rstrip("\n").split("\n\n")
    header = blocks[0].split("\n")
    threads = []
    for b in blocks[1:]:
        lines = b.split("\n")
        m = HEADER_RE.match(lines[0])
        if not m:
            threads.append((None, None, None, lines))
            continue
        threads.append((m.group(1), m.group(2), m.group(3), lines[1:]))
    return header, threads


def proc_cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        args = f.read().rstrip(b"\0").split(b"\0")
    return b" ".join(args).decode("utf-8", "replace")


def mapped_files(pid):
    files = set()
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                files.add(parts[5].strip())
    return files


def check_header(rep, header, what, problems):
    """Process PID: CMDLINE / Python vX.Y.Z (a file the process maps)"""
    pid = rep["pid"]
    want = "Process %d: %s" % (pid, proc_cmdline(pid))
    if not header or header[0] != want:
        problems.append("%s: first line is %r, wanted %r"
                        % (what, header[0] if header else "", want))
    m = re.match(r"^Python v(\S+) \((.*)\)$", header[1]) if len(header) > 1 else None
    version = "%d.%d.%d" % tuple(rep["version"])
    if not m or not (m.group(1) == rep["version_string"] or m.group(1).startswith(version)):
        problems.append("%s: second line is %r, wanted 'Python v%s (...)'"
                        % (what, header[1] if len(header) > 1 else "", rep["version_string"]))
    elif m.group(2) not in mapped_files(pid):
        problems.append("%s: %r is not a file the process maps" % (what, m.group(2)))


def check_text(rep, out, full, what, problems, frames=True):
    header, blocks = parse_text(out)
    check_header(rep, header, what, problems)

    by_native = dict((t["native_id"], t) for t in rep["threads"] if t["native_id"])
    by_ident = dict(("0x%X" % t["ident"], t) for t in rep["threads"])
    seen = {}
    order = []
    for tid, status, name, lines in blocks:
        if tid is None:
            problems.append("%s: not a thread header: %r" % (what, lines[0]))
            continue
        t = by_ident.get(tid) if tid.startswith("0x") else by_native.get(int(tid))
        if t is None:
            native = None if tid.startswith("0x") else int(tid)
            ident = int(tid, 16) if tid.startswith("0x") else None
            if not ignorable(rep, ident, native, name, text_frames(lines)):
                problems.append("%s: unexpected thread %s %r:\n%s"
                                % (what, tid, name, "\n".join(lines[:5])))
            continue
        if t["ident"] in seen:
            problems.append("%s: thread %s (%s) listed twice" % (what, tid, t["name"]))
        seen[t["ident"]] = (tid, status, name, lines)
        order.append(t["ident"])

    for t in rep["threads"]:
        label = "%s: thread %r (ident 0x%X, native %s)" % (what, t["name"], t["ident"],
                                                           t["native_id"])
        if t["ident"] not in seen:
            problems.append("%s: missing" % label)
            continue
        tid, status, name, lines = seen[t["ident"]]
        if cpython_native_ids(rep) and tid != str(t["native_id"]):
            problems.append("%s: header says Thread %s, CPython says native id %s"
                            % (label, tid, t["native_id"]))
        if name != t["name"] and (name is not None or tuple(rep["version"]) >= (3, 6)):
            problems.append("%s: name %r, CPython says %r" % (label, name, t["name"]))
        # Not "idle" itself: a blocked thread is runnable for a moment after
        # the previous dump let it go (its system call restarts).
        if status == "active+gil":
            problems.append("%s: shown as active+gil while blocked" % label)
        if frames:
            want = [frame_text(f, full) for f in t["frames"]]
            if lines != want:
                problems.append("%s: frames differ:\n%s" % (label, diff(want, lines)))
    main = rep.get("main_ident")
    if frames and main in seen and order and order[0] != main:
        problems.append("%s: the main thread is not listed first" % what)


JSON_THREAD_KEYS = {"pid", "thread_id", "thread_name", "os_thread_id", "active", "owns_gil",
                    "frames", "process_info"}
JSON_FRAME_KEYS = {"name", "filename", "module", "short_filename", "line", "locals",
                   "is_entry", "is_shim_entry"}


def check_json(rep, out, problems):
    what = "--json"
    try:
        doc = json.loads(out)
    except ValueError as e:
        problems.append("%s: not valid JSON: %s\n%s" % (what, e, out[:500]))
        return
    if not isinstance(doc, list):
        problems.append("%s: not a list of threads" % what)
        return
    by_ident = {}
    for st in doc:
        if not isinstance(st, dict) or set(st) != JSON_THREAD_KEYS:
            problems.append("%s: thread keys %s, wanted %s"
                            % (what, sorted(st) if isinstance(st, dict) else st,
                               sorted(JSON_THREAD_KEYS)))
            continue
        by_ident.setdefault(st["thread_id"], []).append(st)
        if st["pid"] != rep["pid"]:
            problems.append("%s: thread %s has pid %s" % (what, st["thread_id"], st["pid"]))
    known = set(t["ident"] for t in rep["threads"])
    for ident, sts in by_ident.items():
        frames = [(f.get("name"), f.get("filename") or "") for f in sts[0]["frames"]
                  if isinstance(f, dict)]
        if ident not in known and not ignorable(rep, ident, sts[0]["os_thread_id"],
                                                sts[0]["thread_name"], frames):
            problems.append("%s: unexpected thread %s %r" % (what, ident, sts[0]["thread_name"]))
    for t in rep["threads"]:
        label = "%s: thread %r (ident %d)" % (what, t["name"], t["ident"])
        sts = by_ident.get(t["ident"], [])
        if len(sts) != 1:
            problems.append("%s: listed %d times" % (label, len(sts)))
            continue
        st = sts[0]
        if st["thread_name"] != t["name"] and \
                (st["thread_name"] is not None or tuple(rep["version"]) >= (3, 6)):
            problems.append("%s: thread_name %r" % (label, st["thread_name"]))
        if cpython_native_ids(rep) or st["os_thread_id"] is not None:
            if st["os_thread_id"] != t["native_id"]:
                problems.append("%s: os_thread_id %r, native id is %r"
                                % (label, st["os_thread_id"], t["native_id"]))
        if st["owns_gil"]:
            problems.append("%s: owns_gil while blocked" % label)
        frames = st["frames"]
        if any(not isinstance(f, dict) or set(f) != JSON_FRAME_KEYS for f in frames):
            problems.append("%s: frame keys differ from %s" % (label, sorted(JSON_FRAME_KEYS)))
            continue
        want = ["%s (%s:%s) short=%s" % (f[0], f[1], f[2], short_filename(f[1]))
                for f in t["frames"]]
        got = ["%s (%s:%s) short=%s" % (f["name"], f["filename"], f["line"], f["short_filename"])
               for f in frames]
        if got != want:
            problems.append("%s: frames differ:\n%s" % (label, diff(want, got)))
        extras = [f for f in frames if f["module"] is not None or f["locals"] is not None
                  or f["is_entry"] is not False or f["is_shim_entry"] is not False]
        if extras:
            problems.append("%s: module/locals/is_entry/is_shim_entry not null/false: %r"
                            % (label, extras[0]))


# --- the tests -----------------------------------------------------------------

@pytest.mark.parametrize("program", PROGRAMS)
def test_dump_exact(interp, program, pool, pyspy):
    interp.require()
    prog = pool.get(interp, program)
    rep = prog.wait_report()
    if rep.get("skip"):
        pytest.skip("%s on %s: %s" % (program, interp.name, rep["skip"]))
    pid = rep["pid"]
    problems = []

    out = decode(problems, "--full-filenames", run_dump(pid, "--full-filenames"))
    if out is not None:
        check_text(rep, out, True, "--full-filenames", problems)

    out = decode(problems, "short filenames", run_dump(pid))
    if out is not None:
        check_text(rep, out, False, "short filenames", problems)

    out = decode(problems, "--json", run_dump(pid, "--json"))
    if out is not None:
        check_json(rep, out, problems)

    if program == "base":
        out = decode(problems, "--nonblocking", run_dump(pid, "--nonblocking"))
        if out is not None:
            check_text(rep, out, True, "--nonblocking", problems, frames=False)

    if program == "churn":
        for i in range(CHURN_DUMPS):
            what = "churn dump %d" % (i + 1)
            out = decode(problems, what, run_dump(pid, "--full-filenames"))
            if out is not None:
                check_text(rep, out, True, what, problems)

    if prog.proc.poll() is not None:
        problems.append("the target died during the dumps (exit %s):\n%s"
                        % (prog.proc.returncode, prog.stderr()))
    assert not problems, "%s on %s (pid %d):\n%s" % (program, interp.name, pid,
                                                     "\n".join(problems))
