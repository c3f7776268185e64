"""CPU-bound workload whose time shares are fixed by construction.

One loop calls a(), b() and c() 5, 3 and 2 times per round; the three have
the same body, so they take 50%, 30% and 20% of the time spent in them.
The program also measures the wall time it spends in each, which is what a
sampling profiler estimates: on a busy machine the time the thread waits
for a CPU, or is held stopped by a profiler, lands in whichever function
it was in, for the program's clock and for the profiler alike.  (The
thread's CPU time would be free of that, but reading it is a system call,
and under load the scheduler takes the CPU away at system calls far more
often than elsewhere: timing each call that way moves most waiting out of
a, b and c.)

Usage: shares.py [SECONDS [REPORT]]: run that long (0: until SIGTERM), then
write {"a": s, "b": s, "c": s, "seq": n} (seconds in each so far) as
JSON to REPORT.  SIGUSR1 writes the same report at once with seq counting
the requests, so that a test can read the time spent in each over a window.
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
spent = [0.0, 0.0, 0.0]
requests = [0]


def write_report(path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"a": spent[0], "b": spent[1], "c": spent[2], "seq": requests[0]}, f)
    os.rename(tmp, path)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    report = sys.argv[2] if len(sys.argv) > 2 else None

    def on_usr1(signum, frame):
        requests[0] += 1
        if report:
            write_report(report)

    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    signal.signal(signal.SIGUSR1, on_usr1)
    clock = time.perf_counter
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
        write_report(report)


main()
