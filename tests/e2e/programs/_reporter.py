# -*- coding: utf-8 -*-
"""Shared by the target programs of test_dump_exact.py (Python 2.7 and 3.x).

Every thread to be reported calls ready() just before its blocking call.  A
reporter thread waits until every expected thread has announced itself and
its stack stays still, then writes what CPython says of those threads (name,
ident, native thread id, frames innermost first: function, file, line) to
the JSON file named by sys.argv[1], atomically (tmp + rename), and then
blocks itself in reporter_block() until the program is killed.
"""
import json
import os
import platform
import sys
import threading
import time

try:
    from threading import get_ident
except ImportError:  # Python 2.7
    from thread import get_ident

_lock = threading.Lock()
_ready = {}          # ident -> native thread id
_at_ready = {}       # ident -> where the thread was when it called ready()
_ignored = {}        # ident -> native id of threads whose stacks move
_tempdirs = []       # folders the test removes at the end

# gettid(2) by number, for interpreters without threading.get_native_id.
_GETTID = {"x86_64": 186, "aarch64": 178, "i686": 224, "i386": 224}
try:
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
except Exception:
    _libc = None


def native_id():
    """(kernel thread id, who said so): CPython itself on 3.8+."""
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get(), "cpython"
    nr = _GETTID.get(platform.machine())
    if _libc is not None and nr is not None:
        return int(_libc.syscall(nr)), "gettid"
    return None, None


def ready():
    """The calling thread is about to block where it will be reported."""
    tid = native_id()[0]
    stack = _positions(sys._getframe(1))
    with _lock:
        _ready[get_ident()] = tid
        _at_ready[get_ident()] = stack


def ignore():
    """The calling thread's stack moves; the dump may list it anyhow."""
    tid = native_id()[0]
    with _lock:
        _ignored[get_ident()] = tid


def add_tempdir(path):
    _tempdirs.append(path)


def _walk(frame):
    # The same as traceback.extract_stack(frame), innermost first, without
    # reading source lines.
    out = []
    while frame is not None:
        code = frame.f_code
        out.append([code.co_name, code.co_filename, frame.f_lineno])
        frame = frame.f_back
    return out


def _positions(frame):
    # Each frame's code and instruction: tells a thread that has left its
    # ready() call even when the line stays the same.
    out = []
    while frame is not None:
        out.append((id(frame.f_code), frame.f_lasti))
        frame = frame.f_back
    return out


def _moved(idents, at_ready):
    frames = sys._current_frames()
    for ident in idents:
        frame = frames.get(ident)
        if frame is None or _positions(frame) == at_ready[ident]:
            return False
    return True


def _snapshot(idents):
    frames = sys._current_frames()
    snap = {}
    for ident in idents:
        frame = frames.get(ident)
        if frame is None:
            return None
        snap[ident] = _walk(frame)
    return snap


def _write(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.rename(tmp, path)


def reporter_block():
    threading.Event().wait()


def _report(path, expected, ignore_prefixes, ignore_functions):
    me = get_ident()
    my_tid, tid_source = native_id()
    while True:
        with _lock:
            n = len(_ready)
        if n >= expected:
            break
        time.sleep(0.01)
    # Every thread has announced itself; wait until each has left the
    # instruction where it called ready() (a thread the scheduler holds back
    # may still be there) and no stack moves for a few polls: each sits in
    # its blocking call.
    prev, still = None, 0
    while still < 3:
        with _lock:
            idents = sorted(_ready)
            at_ready = dict(_at_ready)
        snap = _snapshot(idents)
        moved = snap is not None and _moved(idents, at_ready)
        if moved and snap == prev:
            still += 1
        else:
            still = 0
        prev = snap
        time.sleep(0.03)
    names = dict((t.ident, t.name) for t in threading.enumerate())
    threads = []
    for ident in idents:
        threads.append({
            "ident": ident,
            "native_id": _ready[ident],
            "name": names.get(ident),
            "frames": snap[ident],
        })
    with _lock:
        ignored = sorted(_ignored)
        ignored_native = sorted(t for t in _ignored.values() if t)
    _write(path, {
        "pid": os.getpid(),
        "version": list(sys.version_info[:3]),
        "version_string": platform.python_version(),
        "executable": sys.executable,
        "native_id_source": tid_source,
        "main_ident": _main_ident,
        "reporter": {"ident": me, "native_id": my_tid, "name": names.get(me)},
        "threads": threads,
        "ignore_idents": ignored,
        "ignore_native_ids": ignored_native,
        "ignore_name_prefixes": list(ignore_prefixes),
        "ignore_functions": list(ignore_functions),
        "tempdirs": _tempdirs,
        "skip": None,
    })
    reporter_block()


_main_ident = get_ident()  # this module is imported by the main thread


def start(expected, ignore_prefixes=(), ignore_functions=()):
    """Report once `expected` threads (main included) called ready().

    Threads that come and go may be listed by a dump too: those named with
    one of ignore_prefixes, or (when the dump shows no name) whose frames
    are all in threading.py or functions named in ignore_functions."""
    t = threading.Thread(target=_report, name="reporter",
                         args=(sys.argv[1], expected, ignore_prefixes, ignore_functions))
    t.daemon = True
    t.start()


def skip(reason):
    """This program does not apply to this interpreter."""
    _write(sys.argv[1], {"pid": os.getpid(), "skip": reason,
                         "tempdirs": _tempdirs})
    sys.exit(0)


def start_thread(name, target, *args):
    t = threading.Thread(target=target, name=name, args=args)
    t.daemon = True
    t.start()
    return t


FOREVER = 1000000
