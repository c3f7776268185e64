# -*- coding: utf-8 -*-
"""A program that crashes at a known point (test_core.py, Python 2.7 and 3.x).

A named thread blocks in Event.wait; once it is there, the main thread
writes its own account of every thread (name, ident, frames innermost
first: function, file, line) to the JSON file named by sys.argv[1], then
calls os.abort() on the line the account gives for it, holding the GIL, so
that the kernel writes a core of the process in its working folder.
"""
import json
import os
import sys
import threading
import time

try:
    from threading import get_ident
except ImportError:  # Python 2.7
    from thread import get_ident


def walk(frame):
    out = []
    while frame is not None:
        out.append([frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno])
        frame = frame.f_back
    return out


def waiter_block(event):
    event.wait()


def waiter(event):
    waiter_block(event)


def account(waiter_thread):
    """What CPython says of both threads, the main one as it will be on
    the os.abort() line of crash()."""
    frames = sys._current_frames()
    main = walk(sys._getframe(1))
    main[0][2] = crash_line()
    return {
        "pid": os.getpid(),
        "version": list(sys.version_info[:3]),
        "threads": [
            {"ident": get_ident(), "name": threading.current_thread().name,
             "native_id": getattr(threading, "get_native_id", lambda: None)(),
             "frames": main},
            {"ident": waiter_thread.ident, "name": waiter_thread.name,
             "native_id": getattr(waiter_thread, "native_id", None),
             "frames": walk(frames[waiter_thread.ident])},
        ],
    }


def crash_line():
    return crash.__code__.co_firstlineno + 6


def crash(path, waiter_thread):
    doc = account(waiter_thread)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, path)
    os.abort()  # crash_line(): co_firstlineno + 6


def main():
    event = threading.Event()
    t = threading.Thread(target=waiter, args=(event,), name="waiter")
    t.daemon = True
    t.start()
    # wait until the waiter sits in its blocking call: in waiter_block, its
    # stack still for three polls
    prev, still = None, 0
    while still < 3:
        frame = sys._current_frames().get(t.ident)
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_name, frame.f_lasti))
            frame = frame.f_back
        if stack == prev and any(name == "waiter_block" for name, _ in stack):
            still += 1
        else:
            still = 0
        prev = stack
        time.sleep(0.03)
    crash(sys.argv[1], t)


if __name__ == "__main__":
    main()
