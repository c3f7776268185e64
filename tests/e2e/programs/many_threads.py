"""Fifty named threads blocked in various calls at various depths."""
import threading
import time

import _reporter

NTHREADS = 50
held = threading.Lock()
held.acquire()


def leaf(kind):
    _reporter.ready()
    if kind == 0:
        time.sleep(_reporter.FOREVER)
    elif kind == 1:
        threading.Event().wait()
    else:
        held.acquire()


def descend(depth, kind):
    if depth == 0:
        leaf(kind)
    else:
        descend(depth - 1, kind)


def main():
    for i in range(NTHREADS):
        _reporter.start_thread("t-%02d" % i, descend, i % 5, i % 3)
    _reporter.start(expected=NTHREADS + 1)
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


if __name__ == "__main__":
    main()
