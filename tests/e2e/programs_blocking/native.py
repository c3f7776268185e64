"""A Python program with native threads (no Python thread state) beside
its Python threads, for the blocking-mode tests.

Usage: native.py LIB MODE
  LIB   the native_threads library (native_threads.c beside this file)
  MODE  "plain": 3 native threads, 2 Python threads that compute;
        "traced": the same, and python thread 1 held by another process
        (PTRACE_SEIZE from a child);
        "vfork": the same, and python thread 1 waits in vfork() for a child
        that sleeps 300 ms, again and again, holding the GIL (a C call
        through ctypes.PyDLL): it must be held, and reaches no stop.
Prints one JSON line {"native": [tids], "python": [tids], "tracer": pid}
then runs until killed.
"""
import ctypes
import json
import sys
import threading
import time

lib = ctypes.CDLL(sys.argv[1])
gil_lib = ctypes.PyDLL(sys.argv[1])  # its calls keep the GIL
mode = sys.argv[2]
tids = [0, 0]
started = threading.Semaphore(0)


def compute(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def in_vfork():
    gil_lib.vfork_sleep(300)


def worker(index):
    tids[index] = threading.get_native_id()
    started.release()
    while True:
        if mode == "vfork" and index == 1:
            in_vfork()
        compute(2000)


def main():
    n = lib.native_start(3)
    native = [lib.native_tid(i) for i in range(n)]
    for i in range(2):
        threading.Thread(target=worker, args=(i,), daemon=True).start()
    started.acquire()
    started.acquire()
    tracer = lib.trace_thread(tids[1]) if mode == "traced" else 0
    sys.stdout.write(json.dumps({"native": native, "python": [threading.get_native_id()] + tids,
                                 "tracer": tracer}) + "\n")
    sys.stdout.flush()
    while True:
        compute(2000)
        time.sleep(0.001)


main()
