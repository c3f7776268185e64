"""CPU-bound workload whose time shares are fixed by construction.

One loop calls a(), b() and c() 5, 3 and 2 times per round; the three have
the same body, so they take 50%, 30% and 20% of the time spent in them.
Usage: shares.py [SECONDS]  (run that long, else until killed).
Prints "ready <pid>" once running.
"""
import os
import sys
import time

N = 3000


def a(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def b(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def c(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    end = time.time() + seconds
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    while not seconds or time.time() < end:
        for _ in range(5):
            a(N)
        for _ in range(3):
            b(N)
        for _ in range(2):
            c(N)


main()
