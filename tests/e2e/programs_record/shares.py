"""CPU-bound workload whose time shares are fixed by construction.

One loop calls a(), b() and c() 5, 3 and 2 times per round; the three have
the same body, so they take 50%, 30% and 20% of the time spent in them.
The program also measures the wall time it spends in each (on a busy
machine, time waiting for a CPU lands in whichever function was running,
for the program's clock and for a sampling profiler alike).

Usage: shares.py [SECONDS [REPORT]]: run that long (0: until SIGTERM), then
write {"a": s, "b": s, "c": s} (seconds in each) as JSON to REPORT.
Prints "ready <pid>" once running.
"""
import json
import os
import signal
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


stop = []


def main():
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    report = sys.argv[2] if len(sys.argv) > 2 else None
    clock = time.perf_counter
    spent = [0.0, 0.0, 0.0]
    end = time.time() + seconds
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    while not stop and (not seconds or time.time() < end):
        for _ in range(5):
            t = clock()
            a(N)
            spent[0] += clock() - t
        for _ in range(3):
            t = clock()
            b(N)
            spent[1] += clock() - t
        for _ in range(2):
            t = clock()
            c(N)
            spent[2] += clock() - t
    if report:
        with open(report, "w") as f:
            json.dump({"a": spent[0], "b": spent[1], "c": spent[2]}, f)


main()
