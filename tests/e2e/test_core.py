"""`py-spy dump --core FILE`: stacks read from a core file by the core-file
backend module (build/modules/backends/elfcore.so).

- On every interpreter: the `base` program of test_dump_exact.py blocks its
  threads and writes CPython's own account of them; `gcore` takes a core of
  it (one per interpreter); `dump --core` must equal that account frame by
  frame (function, file, line), with the thread names and ids, in text
  (full and short file names) and JSON.  The same core read twice gives
  the same output, and the core file is not modified.  Where gcore could
  not read part of the memory (stack guard pages inside a mapping, Debian
  unstable's glibc), the frames the core holds must match, and a kernel
  core of the same program killed by SIGABRT must match exactly.
- On the heavy interpreters: a kernel core of a program that calls
  os.abort() (tests/e2e/programs_core/crash.py), written into the test's
  own folder (RLIMIT_CORE raised for that process only) when
  /proc/sys/kernel/core_pattern is a plain file name; the GIL holder is
  marked.  Then the bad inputs: truncated, not a core, a FIFO, gzip (same
  stacks), a gzip bomb, a truncated gzip stream, a core of a program that
  is not Python, binaries missing or of another build under --core-root,
  a core that holds no build id for the runtime (used, said unverified),
  a symlink that would lead out of --core-root.
"""
import gzip
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import PYSPY, run_pyspy
import interpreters
import test_dump_exact as dx

GCORE = shutil.which("gcore")
CRASH = dx.ROOT / "tests" / "e2e" / "programs_core" / "crash.py"
GCORE_UNREAD_RE = re.compile(r"Memory read failed for corefile section, (\d+) bytes at (0x[0-9a-f]+)")
THREAD_RE = re.compile(r'^Thread (0x[0-9A-F]+|\d+)(?: \((gil)\))?(?:: "(.*)")?$')
HEAVY = [i.name for i in interpreters.heavy_interpreters()]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dump_core(core, *args, timeout=60):
    return run_pyspy(["dump", "--core", core] + list(args), timeout=timeout)


def one_error_line(r):
    """The error of a failed run: exactly one line on stderr."""
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- taking cores ------------------------------------------------------------

class Cores:
    """gcore cores, one per interpreter; the heavy interpreters' are kept
    for the bad-input tests, the others removed once their test is done."""

    def __init__(self):
        self.made = {}   # interpreter name -> (rep, core path, workdir)
        self.dirs = []

    def gcore(self, interp):
        if interp.name in self.made:
            return self.made[interp.name]
        if not GCORE:
            pytest.skip("gcore not installed (Debian package gdb; scripts/deps.sh)")
        workdir = tempfile.mkdtemp(prefix="pyspy-core-")
        self.dirs.append(workdir)
        prog = dx.Program(interp, "base", workdir)
        try:
            rep = prog.wait_report()
            if rep.get("skip"):
                pytest.skip("base on %s: %s" % (interp.name, rep["skip"]))
            prefix = os.path.join(workdir, "core")
            r = subprocess.run([GCORE, "-o", prefix, str(rep["pid"])], capture_output=True,
                               timeout=180)
            core = "%s.%d" % (prefix, rep["pid"])
            if r.returncode != 0 or not os.path.exists(core):
                pytest.fail("gcore of %s failed (%d): %s" % (interp.name, r.returncode,
                                                             r.stderr.decode("utf-8", "replace")[-800:]))
        finally:
            prog.kill()
        # gcore writes zeros where it could not read (stack guard pages that
        # are not mappings of their own, glibc >= 2.41): the core lacks them
        unread = [int(n) for n, addr in GCORE_UNREAD_RE.findall(r.stderr.decode("utf-8", "replace"))
                  if not addr.startswith("0xffffffffff")]  # [vsyscall]
        self.made[interp.name] = (rep, core, workdir, sum(unread))
        return self.made[interp.name]

    def done(self, interp):
        """Remove a core no later test needs."""
        if interp.name in HEAVY or interp.name not in self.made:
            return
        shutil.rmtree(self.made.pop(interp.name)[2], ignore_errors=True)

    def close(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def cores():
    c = Cores()
    try:
        yield c
    finally:
        c.close()


# --- what the dump should say --------------------------------------------------

def parse_core_text(out):
    """(header lines, [(id, mark, name, frame lines)])"""
    blocks = out.rstrip("\n").split("\n\n")
    threads = []
    for b in blocks[1:]:
        lines = b.split("\n")
        m = THREAD_RE.match(lines[0])
        threads.append((m.group(1), m.group(2), m.group(3), lines[1:]) if m else
                       (None, None, None, lines))
    return blocks[0].split("\n"), threads


def check_core_header(rep, core, header, problems, signal_no=None):
    want0 = re.compile(r"^(Signal (\d+)|Core file): %s$" % re.escape(str(core)))
    m = want0.match(header[0]) if header else None
    if not m:
        problems.append("header line 1 is %r, wanted 'Signal N: %s'" % (header[:1], core))
    elif signal_no is not None and m.group(2) != str(signal_no):
        problems.append("header says %r, the process died of signal %d" % (header[0], signal_no))
    if len(header) < 3 or not header[1].startswith("Process %d: " % rep["pid"]):
        problems.append("header line 2 is %r, wanted 'Process %d: ...'"
                        % (header[1:2], rep["pid"]))
    version = "%d.%d.%d" % tuple(rep["version"])
    if len(header) < 3 or not header[2].startswith("Python v" + version):
        problems.append("header line 3 is %r, wanted 'Python v%s (...)'" % (header[2:3], version))


def same_or_cut(want, got, cut, label):
    """Whether got equals want; with cut (a list) given, got may also be
    want without its outermost frames (noted in cut)."""
    if got == want:
        return True
    if cut is not None and got and got == want[:len(got)]:
        cut.append("%s: %d of %d frames" % (label, len(got), len(want)))
        return True
    return False


def check_core_text(rep, core, out, full, problems, gil_idents=(), signal_no=None, cut=None):
    """Every reported thread, frame by frame; only the GIL holder marked."""
    header, blocks = parse_core_text(out)
    check_core_header(rep, core, header, problems, signal_no)
    by_native = dict((t.get("native_id"), t) for t in rep["threads"] if t.get("native_id"))
    by_ident = dict(("0x%X" % t["ident"], t) for t in rep["threads"])
    seen = {}
    for tid, mark, name, lines in blocks:
        if tid is None:
            problems.append("not a thread header: %r" % lines[0])
            continue
        t = by_ident.get(tid) if tid.startswith("0x") else by_native.get(int(tid))
        if t is None and "reporter" not in rep:
            # the crash program knows no native ids before 3.8: its names are unique
            t = dict((x["name"], x) for x in rep["threads"]).get(name)
        if t is None:
            native = None if tid.startswith("0x") else int(tid)
            ident = int(tid, 16) if tid.startswith("0x") else None
            if "reporter" not in rep or not dx.ignorable(rep, ident, native, name,
                                                         dx.text_frames(lines)):
                problems.append("unexpected thread %s %r" % (tid, name))
            continue
        seen[t["ident"]] = (tid, mark, name, lines)
    for t in rep["threads"]:
        label = "thread %r (ident 0x%X)" % (t["name"], t["ident"])
        if t["ident"] not in seen:
            problems.append("%s: missing" % label)
            continue
        tid, mark, name, lines = seen[t["ident"]]
        if name != t["name"] and (name is not None or tuple(rep["version"]) >= (3, 6)):
            problems.append("%s: name %r" % (label, name))
        want_mark = "gil" if t["ident"] in gil_idents else None
        if mark != want_mark:
            problems.append("%s: marked %r, wanted %r" % (label, mark, want_mark))
        want = [dx.frame_text(f, full) for f in t["frames"]]
        if not same_or_cut(want, lines, cut, label):
            problems.append("%s: frames differ:\n%s" % (label, dx.diff(want, lines)))


def check_core_json(rep, out, problems, cut=None):
    """py-spy's JSON fields; a core tells no OS state: active is null."""
    try:
        doc = json.loads(out)
    except ValueError as e:
        problems.append("--json: not valid JSON: %s" % e)
        return
    by_ident = dict((st.get("thread_id"), st) for st in doc if isinstance(st, dict))
    for st in doc:
        if set(st) != dx.JSON_THREAD_KEYS or st["active"] is not None or st["pid"] != rep["pid"]:
            problems.append("--json: thread %r: keys %s, active %r, pid %r"
                            % (st.get("thread_id"), sorted(st), st.get("active"), st.get("pid")))
    for t in rep["threads"]:
        label = "--json: thread %r" % t["name"]
        st = by_ident.get(t["ident"])
        if st is None:
            problems.append("%s: missing" % label)
            continue
        if st["thread_name"] != t["name"] and \
                (st["thread_name"] is not None or tuple(rep["version"]) >= (3, 6)):
            problems.append("%s: thread_name %r" % (label, st["thread_name"]))
        if dx.cpython_native_ids(rep) and st["os_thread_id"] != t["native_id"]:
            problems.append("%s: os_thread_id %r, native id %r" % (label, st["os_thread_id"],
                                                                 t["native_id"]))
        if st["owns_gil"]:
            problems.append("%s: owns_gil while blocked" % label)
        want = ["%s (%s:%s) short=%s" % (f[0], f[1], f[2], dx.short_filename(f[1]))
                for f in t["frames"]]
        got = ["%s (%s:%s) short=%s" % (f.get("name"), f.get("filename"), f.get("line"),
                                        f.get("short_filename")) for f in st["frames"]]
        if not same_or_cut(want, got, cut, label):
            problems.append("%s: frames differ:\n%s" % (label, dx.diff(want, got)))


def decode(problems, what, r):
    if r.returncode != 0:
        problems.append("%s: exit %d: %s" % (what, r.returncode, r.stderr.strip()))
        return None
    return r.stdout


# --- gcore, every interpreter --------------------------------------------------

def test_gcore_exact(interp, cores, pyspy):
    interp.require()
    rep, core, _, unread = cores.gcore(interp)
    before = (sha256(core), os.stat(core).st_mtime_ns)
    # Where gcore could not read part of the memory, a thread's outermost
    # frames may be missing from the core: the frames it holds must match.
    cut = [] if unread else None
    problems = []
    first = decode(problems, "--full-filenames", dump_core(core, "--full-filenames"))
    if first is not None:
        check_core_text(rep, core, first, True, problems, cut=cut)
        again = decode(problems, "again", dump_core(core, "--full-filenames"))
        if again is not None and again != first:
            problems.append("a second read of the same core differs:\n%s"
                            % dx.diff(first.split("\n"), again.split("\n")))
    out = decode(problems, "short names", dump_core(core))
    if out is not None:
        check_core_text(rep, core, out, False, problems, cut=cut)
    out = decode(problems, "--json", dump_core(core, "--json"))
    if out is not None:
        check_core_json(rep, out, problems, cut=cut)
    if (sha256(core), os.stat(core).st_mtime_ns) != before:
        problems.append("the core file was modified")
    cores.done(interp)
    assert not problems, "%s:\n%s" % (interp.name, "\n".join(problems))
    if cut and kernel_cores_here() is None:
        # The frames gcore lost are in a kernel core of the same program.
        kernel_core_of_base(interp)
    elif cut:
        pytest.skip("gcore of %s could not read %d KiB of the process (stack guard pages "
                    "inside a mapping) and wrote zeros there: outermost frames are not in the "
                    "core (%s); every frame the core holds matched"
                    % (interp.name, unread >> 10, "; ".join(sorted(set(cut))[:3])))


# --- a kernel core, heavy interpreters --------------------------------------------

def kernel_cores_here():
    """None if a crashing process of ours writes its core into its working
    folder, else why not (the skip names it)."""
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
    except OSError as e:
        return "cannot read /proc/sys/kernel/core_pattern: %s" % e
    if pattern.startswith("|") or "/" in pattern or not pattern:
        return ("/proc/sys/kernel/core_pattern is %r: cores do not go to the crashing "
                "process's folder" % pattern)
    return None


def raise_core_limit():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def kernel_core_of_base(interp):
    """The `base` program, killed by SIGABRT at its known point, leaves a
    kernel core in a folder of the test's own: the dump of that core must
    equal the program's account exactly.  The kernel writes every page it
    can read one by one, so a guard page costs only itself, not the
    stack around it as with gcore."""
    workdir = tempfile.mkdtemp(prefix="pyspy-kcore-")
    prog = dx.Program(interp, "base", workdir, cwd=workdir, preexec_fn=raise_core_limit)
    try:
        rep = prog.wait_report()
        if rep.get("skip"):
            pytest.skip("base on %s: %s" % (interp.name, rep["skip"]))
        os.kill(rep["pid"], signal.SIGABRT)
        try:
            prog.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("%s: base did not end on SIGABRT" % interp.name)
        found = [n for n in os.listdir(workdir) if n.startswith("core")]
        if not found:
            pytest.skip("gcore of %s lost frames and no kernel core was written in %s "
                        "(core_pattern %r)" % (interp.name, workdir,
                                               open("/proc/sys/kernel/core_pattern").read().strip()))
        core = os.path.join(workdir, found[0])
        problems = []
        out = decode(problems, "kernel core", dump_core(core, "--full-filenames"))
        if out is not None:
            check_core_text(rep, core, out, True, problems, signal_no=signal.SIGABRT)
        out = decode(problems, "kernel core --json", dump_core(core, "--json"))
        if out is not None:
            check_core_json(rep, out, problems)
        assert not problems, "kernel core of %s:\n%s" % (interp.name, "\n".join(problems))
    finally:
        prog.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def test_kernel_core(heavy_interp, pyspy):
    interp = heavy_interp.require()
    why = kernel_cores_here()
    if why:
        pytest.skip("kernel core on %s: %s" % (interp.name, why))
    workdir = tempfile.mkdtemp(prefix="pyspy-kcore-")
    try:
        report = os.path.join(workdir, "account.json")
        argv = dx.launch_argv(interp, CRASH, report)
        p = subprocess.run(argv, cwd=workdir,
                           env=dx.launch_env(interp), capture_output=True, timeout=60,
                           preexec_fn=raise_core_limit)
        assert p.returncode == -signal.SIGABRT, p.stderr.decode("utf-8", "replace")
        found = [n for n in os.listdir(workdir) if n.startswith("core")]
        if not found:
            pytest.skip("kernel core on %s: no core was written in %s (core_pattern %r)"
                        % (interp.name, workdir, open("/proc/sys/kernel/core_pattern").read().strip()))
        core = os.path.join(workdir, found[0])
        with open(report) as f:
            rep = json.load(f)
        main_ident = rep["threads"][0]["ident"]
        problems = []
        out = decode(problems, "kernel core", dump_core(core, "--full-filenames"))
        if out is not None:
            check_core_text(rep, core, out, True, problems, gil_idents=(main_ident,),
                            signal_no=signal.SIGABRT)
            # the whole command line, from argv on the core's stack
            want = "Process %d: %s" % (rep["pid"], " ".join(argv))
            if out.split("\n")[1] != want:
                problems.append("header line 2 is %r, wanted %r" % (out.split("\n")[1], want))
        out = decode(problems, "--json", dump_core(core, "--json"))
        if out is not None:
            doc = json.loads(out)
            gil = [st["thread_id"] for st in doc if st["owns_gil"]]
            if gil != [main_ident]:
                problems.append("--json: owns_gil on %r, wanted the main thread %d"
                                % (gil, main_ident))
        assert not problems, "%s:\n%s" % (interp.name, "\n".join(problems))
        check_binary_lookups(interp, core, rep, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def runtime_path(core):
    """The file the dump says holds the runtime: 'Python vX (PATH)'."""
    out = dump_core(core).stdout
    m = re.search(r"^Python v\S+ \((.*)\)$", out, re.M)
    assert m, out
    return m.group(1)


def without_build_id(core, runtime, out):
    """A copy of the kernel core in which the ELF header page of `runtime`
    no longer reads as ELF: a core that holds no build id for it."""
    data = bytearray(open(core, "rb").read())
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    phdrs = [struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i) for i in range(phnum)]
    start = None
    for ptype, _, off, _, _, filesz, _, _ in phdrs:
        at = off
        while ptype == 4 and at + 12 <= off + filesz:      # PT_NOTE: every note
            namesz, descsz, ntype = struct.unpack_from("<III", data, at)
            desc = at + 12 + ((namesz + 3) & ~3)
            if ntype == 0x46494C45:                         # NT_FILE
                count, _ = struct.unpack_from("<QQ", data, desc)
                names = bytes(data[desc + 16 + 24 * count:desc + descsz]).split(b"\0")
                for k in range(count):
                    s, _, pgoff = struct.unpack_from("<QQQ", data, desc + 16 + 24 * k)
                    if names[k].decode() == runtime and pgoff == 0:
                        start = s
            at = desc + ((descsz + 3) & ~3)
    assert start is not None, "no NT_FILE mapping of %s at offset 0" % runtime
    for ptype, _, off, vaddr, _, filesz, _, _ in phdrs:
        if ptype == 1 and vaddr <= start < vaddr + filesz:
            data[off + start - vaddr:off + start - vaddr + 4] = b"\0\0\0\0"
            with open(out, "wb") as f:
                f.write(data)
            return out
    pytest.fail("the kernel core holds no page of %s at 0x%x" % (runtime, start))


def check_binary_lookups(interp, core, rep, workdir):
    """--core-root: the right copies work; none, another build, or a
    symlink out of the root are refused in one line each."""
    runtime = runtime_path(core)
    exe = os.path.realpath(interp.expected_exe())

    good = os.path.join(workdir, "good")
    for path in {runtime, exe}:
        os.makedirs(good + os.path.dirname(path), exist_ok=True)
        shutil.copy(path, good + path)
    r = dump_core(core, "--core-root", good)
    assert r.returncode == 0, r.stderr
    assert 'Thread %d (gil): "MainThread"' % rep["pid"] in r.stdout

    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    line = one_error_line(dump_core(core, "--core-root", empty))
    assert "cannot open %s" % runtime in line and "No such file" in line, line

    other = os.path.join(workdir, "other")
    os.makedirs(other + os.path.dirname(runtime))
    shutil.copy(os.path.realpath(shutil.which("true")), other + runtime)
    line = one_error_line(dump_core(core, "--core-root", other))
    assert "%s on disk (build id" % runtime in line and "is not the file the core's process" in line, line

    # no build id in the core: the file is used, and the match said unverified
    r = dump_core(without_build_id(core, runtime, os.path.join(workdir, "core.no-build-id")))
    assert r.returncode == 0, r.stderr
    assert 'Thread %d (gil): "MainThread"' % rep["pid"] in r.stdout
    assert "%s: the core holds no build id for it" % runtime in r.stderr
    assert "unverified" in r.stderr

    # an absolute symlink resolves inside the root, not to the real file
    link = os.path.join(workdir, "link")
    os.makedirs(link + os.path.dirname(runtime))
    os.symlink(runtime, link + runtime)
    line = one_error_line(dump_core(core, "--core-root", link))
    assert "cannot open %s" % runtime in line, line


# --- bad input and compressed cores (heavy interpreters' gcore) ----------------------

def test_core_bad_input(heavy_interp, cores, pyspy, tmp_path):
    interp = heavy_interp.require()
    rep, core, _, _ = cores.gcore(interp)
    size = os.path.getsize(core)
    plain = dump_core(core)
    assert plain.returncode == 0, plain.stderr

    # compressed: the same stacks, read without a copy on disk
    gz = str(tmp_path / "core.gz")
    with open(core, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    r = dump_core(gz)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[1:] == plain.stdout.split("\n")[1:]
    assert sorted(os.listdir(tmp_path)) == ["core.gz"]

    truncated = str(tmp_path / "truncated")
    with open(core, "rb") as src, open(truncated, "wb") as dst:
        dst.write(src.read(size // 2))
    assert "is truncated" in one_error_line(dump_core(truncated))

    bomb = str(tmp_path / "bomb.gz")
    with open(core, "rb") as src, gzip.open(bomb, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        zeros = b"\0" * (1 << 20)
        for _ in range(64):
            dst.write(zeros)
    assert "gzip bomb" in one_error_line(dump_core(bomb))

    cut = str(tmp_path / "cut.gz")
    with open(gz, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(os.path.getsize(gz) // 2))
    assert "is truncated" in one_error_line(dump_core(cut))

    text = str(tmp_path / "notes.txt")
    with open(text, "w") as f:
        f.write("not a core\n")
    assert "is not a core file (not an ELF file)" in one_error_line(dump_core(text))
    assert "is not a core file (an ELF" in one_error_line(dump_core(os.path.realpath(PYSPY)))

    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    assert "not a regular file" in one_error_line(dump_core(fifo, timeout=20))
    assert "cannot open core file" in one_error_line(dump_core(str(tmp_path / "absent")))


def test_core_not_python(pyspy, tmp_path):
    if not GCORE:
        pytest.skip("gcore not installed (Debian package gdb; scripts/deps.sh)")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        time.sleep(0.2)
        prefix = str(tmp_path / "core")
        r = subprocess.run([GCORE, "-o", prefix, str(sleeper.pid)], capture_output=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    core = "%s.%d" % (prefix, sleeper.pid)
    line = one_error_line(dump_core(core))
    assert "is not of a Python program" in line and "no Python runtime found" in line, line
    assert stat.S_ISREG(os.stat(core).st_mode)


def test_core_backend_entry(pyspy, tmp_path):
    """[backend] core must name a backend that reads core files; without the
    entry, dump --core says what to add."""
    build = dx.ROOT / "build"
    text = (build / "plugins.ini").read_text()
    assert "core = modules/backends/elfcore.so" in text
    core = str(tmp_path / "core")
    with open(core, "w") as f:
        f.write("the backend is refused before the file is read\n")

    wrong = tmp_path / "wrong.ini"
    wrong.write_text(text.replace("modules/", str(build / "modules") + "/")
                     .replace("core = " + str(build / "modules") + "/backends/elfcore.so",
                              "core = " + str(build / "modules") + "/backends/linux.so"))
    line = one_error_line(run_pyspy(["--config", wrong, "dump", "--core", core]))
    assert "reads no core files (no open_file op), listed as core" in line, line

    missing = tmp_path / "missing.ini"
    missing.write_text("\n".join(l for l in wrong.read_text().split("\n")
                                 if not l.startswith("core =")))
    line = one_error_line(run_pyspy(["--config", missing, "dump", "--core", core]))
    assert "[backend] has no entry for core (add: core = modules/backends/elfcore.so)" in line, line
