"""Benchmark workload: a 30-level recursion ending in a CPU-bound leaf.

Usage: recurse.py SECONDS.  Prints "ready <pid>", works for SECONDS, then
prints "work <rounds per second>" (the target's work rate).
"""
import os
import sys
import time

DEPTH = 30


def leaf():
    x = 0
    for i in range(20000):
        x += i
    return x


def rec(n):
    if n == 1:
        return leaf()
    return rec(n - 1)


def main():
    seconds = float(sys.argv[1])
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    rounds = 0
    t0 = time.time()
    while time.time() - t0 < seconds:
        rec(DEPTH)
        rounds += 1
    sys.stdout.write("work %f\n" % (rounds / (time.time() - t0)))
    sys.stdout.flush()


main()
