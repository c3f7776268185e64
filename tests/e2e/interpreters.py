"""Every Python interpreter the end-to-end tests run against.

An interpreter that is absent on this machine is still listed, so that the
test using it is reported as skipped by name (a skip never counts as a pass).

Kinds listed by all_interpreters():
  pyenv-X.Y.Z            $(pyenv root)/versions/X.Y.Z/bin/python (shared libpython, PIE)
  debian-3.11            /usr/bin/python3.11 (non-PIE, libpython static in the exe)
  sid-3.13, sid-3.14, sid-3.14d, sid-3.15
                         Debian sid builds (non-PIE, static libpython) fetched by
                         tests/interpreters/fetch-sid.sh into a cache, patched to
                         run with sid's loader and libc; 3.14d is the Py_DEBUG build
  ldso-sid-3.15          sid 3.15 started as "sid-ld.so --library-path DIR python3.15":
                         /proc/PID/exe and comm name the loader
  pyenv-2.7.18-stripped, pyenv-3.6.15-stripped
                         the pyenv python run with LD_LIBRARY_PATH pointing at a
                         `strip`ped copy of its libpython (no .symtab)
  embed-3.12             build/tests/helpers/embed_host running 3.12's libpython,
                         copied as libembedded-runtime.so: exe is not python
  ldso-3.10              /lib64/ld-linux-x86-64.so.2 .../3.10.13/bin/python
  venv-3.12              a venv of pyenv 3.12 (bin/python is a symlink)
  venv-3.11              a venv of Debian 3.11 made with --copies (bin/python is a copy)

Use:
    interp.require()                 # skips the test, naming interp, when absent
    subprocess.Popen(interp.command(script, "arg"), env=interp.environ())
    interp.command("-c", "code")     # "-c CODE" works for every kind too

Attributes: name, version ((major, minor)), argv (command without the script),
env (extra environment variables it needs, {} for most: set them!), kind,
exe (what /proc/PID/exe of the started process resolves to) and libpython
(the shared libpython file the process maps, None when it is static in the
exe), note, reason (why it is absent).

Whatever an interpreter needs (the sid fetch, a stripped copy, a venv, the
embedding host) is made lazily, once per test session, on first use of
.present/.require()/.argv/.command(); files made for the session live in a
temporary folder removed at exit.  PYSPY_SKIP_SID=1 skips the sid fetch.
"""
import atexit
import functools
import os
import pathlib
import platform
import shutil
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FETCH_SID = ROOT / "tests" / "interpreters" / "fetch-sid.sh"
EMBED_SRC = ROOT / "tests" / "helpers" / "embed_host.c"
EMBED_BUILT = ROOT / "build" / "tests" / "helpers" / "embed_host"
HOST_LDSO = "/lib64/ld-linux-x86-64.so.2"


class Interpreter:
    def __init__(self, name, argv, version=None, note="", env=None, kind="python",
                 prepare=None, exe=None, libpython=None):
        self.name = name          # "pyenv-3.9.18", "debian-3.11", ...
        self._argv = list(argv)   # command that starts it (python executable first)
        self.version = version    # (major, minor) when known
        self.note = note
        self.env = dict(env or {})  # extra environment variables to start it with
        self.kind = kind          # pyenv, debian, sid, stripped, embed, ldso, venv
        self.exe = exe            # expected /proc/PID/exe (None: realpath of argv[0])
        self.libpython = libpython  # shared libpython mapped (None: static in exe)
        self.reason = None        # why it is absent
        self._prepare = prepare   # callable(self) -> None, or a reason it is absent
        self._prepared = prepare is None

    def _ready(self):
        if not self._prepared:
            self._prepared = True
            try:
                self.reason = self._prepare(self)
            except (OSError, subprocess.SubprocessError) as e:
                self.reason = f"could not be prepared: {e}"
        return self.reason is None

    @property
    def argv(self):
        self._ready()
        return list(self._argv)

    @property
    def present(self):
        if not self._ready():
            return False
        exe = self._argv[0]
        if not (os.path.exists(exe) and os.access(exe, os.X_OK)):
            self.reason = f"{exe} not found"
            return False
        return True

    def require(self):
        """Skip the calling test, naming the interpreter, when it is absent."""
        if not self.present:
            pytest.skip(f"interpreter {self.name} not present ({self.reason})")
        return self

    def command(self, script, *args):
        """argv that runs SCRIPT (a file, or "-c" followed by code) with ARGS."""
        return self.argv + [str(script)] + [str(a) for a in args]

    def environ(self):
        """The full environment to start it with: os.environ plus .env."""
        self._ready()
        env = dict(os.environ)
        env.update(self.env)
        return env

    def expected_exe(self):
        """What /proc/PID/exe of a started process resolves to."""
        self._ready()
        return os.path.realpath(self.exe or self._argv[0])

    def __repr__(self):
        return f"Interpreter({self.name})"


def _pyenv_root():
    try:
        return subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or os.path.expanduser("~/.pyenv")
    except (OSError, subprocess.SubprocessError):
        return os.path.expanduser("~/.pyenv")


PYENV_VERSIONS = ["2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13",
                  "3.11.7", "3.12.1", "3.13.0"]
SID_VERSIONS = ["3.13", "3.14", "3.14d", "3.15"]


@functools.lru_cache(maxsize=None)
def _pyenv_versions():
    return pathlib.Path(_pyenv_root()) / "versions"


def _pyenv_python(v):
    return _pyenv_versions() / v / "bin" / "python"


def _pyenv_libpython(v):
    """The pyenv build's shared libpython (libpython3.6m.so.1.0 for 3.6)."""
    lib = _pyenv_versions() / v / "lib"
    found = sorted(lib.glob("libpython*.so.1.0"))
    return found[0] if found else lib / f"libpython{'.'.join(v.split('.')[:2])}.so.1.0"


@functools.lru_cache(maxsize=None)
def workdir():
    """A temporary folder for this test session's files, removed at exit."""
    d = tempfile.mkdtemp(prefix="pyspy-interp-")
    atexit.register(shutil.rmtree, d, True)
    return pathlib.Path(d)


# --- Debian sid ---------------------------------------------------------

def sid_cache():
    return pathlib.Path(os.environ.get("PYSPY_SID_CACHE") or
                        pathlib.Path(os.environ.get("XDG_CACHE_HOME") or
                                     pathlib.Path.home() / ".cache") / "pyspy-sid")


@functools.lru_cache(maxsize=None)
def ensure_sid():
    """Run fetch-sid.sh once per session.  Returns (manifest, reason): the
    manifest maps "python3.13", ... to (path, "X.Y.Z", style) and "ldso",
    "libdir" to paths; reason says why the sid interpreters are absent."""
    if os.environ.get("PYSPY_SKIP_SID"):
        return {}, "sid fetch disabled by PYSPY_SKIP_SID"
    try:
        r = subprocess.run(["bash", str(FETCH_SID)], capture_output=True, text=True,
                           timeout=900, env=dict(os.environ, PYSPY_SID_CACHE=str(sid_cache())))
    except (OSError, subprocess.SubprocessError) as e:
        return {}, f"fetch-sid.sh did not run: {e}"
    if r.returncode != 0:
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        return {}, lines[-1] if lines else f"fetch-sid.sh failed ({r.returncode})"
    manifest = {}
    for line in (sid_cache() / "manifest").read_text().splitlines():
        f = line.split()
        if len(f) == 2:
            manifest[f[0]] = f[1]
        elif len(f) == 4:
            manifest[f[0]] = (f[1], f[2], f[3])
    return manifest, None


def _sid_prepare(binary, via_loader=False):
    def prepare(interp):
        manifest, reason = ensure_sid()
        if reason:
            return reason
        if binary not in manifest:
            return f"{binary} is not in the sid cache manifest"
        path, _, style = manifest[binary]
        if via_loader:
            interp._argv = [manifest["ldso"], "--library-path", manifest["libdir"], path]
            interp.exe = manifest["ldso"]
        elif style != "patched":
            return f"patched {binary} did not start (fetch-sid.sh kept the original)"
        else:
            interp._argv = [path]
        return None
    return prepare


def sid_interpreters():
    bindir = sid_cache() / "root" / "usr" / "bin"
    found = []
    for v in SID_VERSIONS:
        binary = f"python{v}"
        mm = tuple(int(x) for x in v.rstrip("d").split("."))
        note = "Py_DEBUG build" if v.endswith("d") else ""
        found.append(Interpreter(f"sid-{v}", [str(bindir / binary)], mm, note=note,
                                 kind="sid", prepare=_sid_prepare(binary)))
    found.append(Interpreter("ldso-sid-3.15", [str(bindir / "python3.15")], (3, 15),
                             note="started through sid's ld.so: exe is the loader",
                             kind="ldso", prepare=_sid_prepare("python3.15", True)))
    return found


# --- a stripped libpython -----------------------------------------------

@functools.lru_cache(maxsize=None)
def _stripped_lib(v):
    """A `strip`ped copy of pyenv V's libpython, in a folder of its own.
    Returns (path, reason)."""
    src = _pyenv_libpython(v)
    if not src.exists():
        return None, f"{src} not found"
    if not shutil.which("strip"):
        return None, "strip (binutils) not installed"
    d = workdir() / f"stripped-{v}"
    d.mkdir(exist_ok=True)
    dst = d / src.name
    shutil.copyfile(src, dst)
    r = subprocess.run(["strip", str(dst)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, f"strip {dst} failed: {r.stderr.strip()}"
    return dst, None


def _stripped_prepare(v):
    def prepare(interp):
        lib, reason = _stripped_lib(v)
        if reason:
            return reason
        interp.env = {"LD_LIBRARY_PATH": str(lib.parent)}
        interp.libpython = str(lib)
        return None
    return prepare


def stripped_interpreters():
    found = []
    for v in ["2.7.18", "3.6.15"]:
        found.append(Interpreter(f"pyenv-{v}-stripped", [str(_pyenv_python(v))],
                                 tuple(map(int, v.split(".")[:2])),
                                 note="LD_LIBRARY_PATH = a stripped copy of its libpython",
                                 kind="stripped", prepare=_stripped_prepare(v)))
    return found


# --- an embedding host --------------------------------------------------

@functools.lru_cache(maxsize=None)
def embed_host():
    """build/tests/helpers/embed_host when up to date, else a private build.
    Returns (path, reason)."""
    if EMBED_BUILT.exists() and EMBED_BUILT.stat().st_mtime >= EMBED_SRC.stat().st_mtime:
        return EMBED_BUILT, None
    out = workdir() / "embed_host"
    cc = os.environ.get("CC", "cc")
    try:
        r = subprocess.run([cc, "-std=gnu11", "-O1", "-g", "-Wall", "-o", str(out),
                            str(EMBED_SRC), "-ldl", "-lpthread"],
                           capture_output=True, text=True, timeout=120)
    except OSError as e:
        return None, f"cannot build embed_host: {e}"
    if r.returncode != 0:
        return None, f"cannot build embed_host: {r.stderr.strip()[:200]}"
    return out, None


def _embed_prepare(v, libname):
    def prepare(interp):
        host, reason = embed_host()
        if reason:
            return reason
        src = _pyenv_libpython(v)
        if not src.exists():
            return f"{src} not found"
        d = workdir() / f"embed-{v}"
        d.mkdir(exist_ok=True)
        lib = d / libname
        if not lib.exists():
            shutil.copyfile(src, lib)
        interp._argv = [str(host), str(lib)]
        interp.libpython = str(lib)
        return None
    return prepare


def embed_interpreters():
    v = "3.12.1"
    return [Interpreter("embed-3.12", [str(EMBED_BUILT)], (3, 12),
                        note="embed_host + libpython3.12 copied as libembedded-runtime.so",
                        env={"PYTHONHOME": str(_pyenv_versions() / v)}, kind="embed",
                        prepare=_embed_prepare(v, "libembedded-runtime.so"))]


# --- started through the host's ld.so -----------------------------------

def _ldso_prepare(interp):
    if platform.machine() != "x86_64":
        return f"{HOST_LDSO} is the x86-64 loader"
    return None if os.path.exists(interp._argv[1]) else f"{interp._argv[1]} not found"


def ldso_interpreters():
    v = "3.10.13"
    return [Interpreter("ldso-3.10", [HOST_LDSO, str(_pyenv_python(v))], (3, 10),
                        note="started as ld.so PYTHON: exe and comm are the loader",
                        kind="ldso", prepare=_ldso_prepare, exe=HOST_LDSO,
                        libpython=str(_pyenv_libpython(v)))]


# --- a venv in front of the real interpreter ----------------------------

@functools.lru_cache(maxsize=None)
def _venv(name, base, copies):
    """python -m venv --without-pip [--copies] into the session folder.
    Returns (bin/python, reason)."""
    if not os.path.exists(base):
        return None, f"{base} not found"
    d = workdir() / name
    cmd = [base, "-m", "venv", "--without-pip"] + (["--copies"] if copies else []) + [str(d)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return None, f"venv module of {base} failed: {lines[-1] if lines else r.returncode}"
    return d / "bin" / "python", None


def _venv_prepare(name, base, copies):
    def prepare(interp):
        py, reason = _venv(name, base, copies)
        if reason:
            return reason
        interp._argv = [str(py)]
        return None
    return prepare


def venv_interpreters():
    base312 = str(_pyenv_python("3.12.1"))
    return [
        Interpreter("venv-3.12", [base312], (3, 12), note="venv, bin/python a symlink",
                    kind="venv", prepare=_venv_prepare("venv-3.12", base312, False),
                    libpython=str(_pyenv_libpython("3.12.1"))),
        Interpreter("venv-3.11", ["/usr/bin/python3.11"], (3, 11),
                    note="venv --copies of Debian 3.11, bin/python a copy",
                    kind="venv", prepare=_venv_prepare("venv-3.11", "/usr/bin/python3.11", True)),
    ]


# --- the lists ----------------------------------------------------------

def all_interpreters():
    found = []
    for v in PYENV_VERSIONS:
        major, minor = map(int, v.split(".")[:2])
        found.append(Interpreter(f"pyenv-{v}", [str(_pyenv_python(v))], (major, minor),
                                 kind="pyenv", libpython=str(_pyenv_libpython(v))))
    found.append(Interpreter("debian-3.11", ["/usr/bin/python3.11"], (3, 11), kind="debian"))
    found += sid_interpreters()
    found += stripped_interpreters()
    found += embed_interpreters()
    found += ldso_interpreters()
    found += venv_interpreters()
    return found


def by_name(name):
    """The interpreter called NAME (KeyError when none is)."""
    for i in all_interpreters():
        if i.name == name:
            return i
    raise KeyError(name)


def heavy_interpreters():
    """One interpreter <= 3.10 and one >= 3.11 for the heavier tests."""
    byname = {i.name: i for i in all_interpreters()}
    return [byname["pyenv-3.9.18"], byname["debian-3.11"]]
