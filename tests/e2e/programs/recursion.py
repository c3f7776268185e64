"""A thread 1000 calls deep, and the main thread in a mutual recursion."""
import sys
import time

import _reporter

DEPTH = 1000


def recurse(n):
    if n == 0:
        _reporter.ready()
        time.sleep(_reporter.FOREVER)
    else:
        recurse(n - 1)


def ping(n):
    if n == 0:
        _reporter.ready()
        time.sleep(_reporter.FOREVER)
    pong(n - 1)


def pong(n):
    ping(n)


def main():
    sys.setrecursionlimit(DEPTH + 500)
    _reporter.start_thread("deep", recurse, DEPTH)
    _reporter.start(expected=2)
    ping(150)


if __name__ == "__main__":
    main()
