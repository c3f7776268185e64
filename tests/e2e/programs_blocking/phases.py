"""Three phases, one after the other, again and again: phase_a does 5
units of work, phase_b 3 and phase_c 2 (the same loop), so they take about
50/30/20% of the program's CPU time.  Each call's length is drawn at random
(0.5 to 1.5 times its share): a round of fixed length could keep step with
the sampling period (a round of 10 units takes about 10 ms, as long as the
period at 100 Hz) and show one phase far more often than its share.  The program measures its own thread
CPU time in each phase (time.thread_time, read once at each phase change:
few clock reads, since a busy machine tends to take the CPU away at a
system call).

Usage: phases.py REPORT: run until SIGTERM, then write {"a": s, "b": s,
"c": s} (CPU seconds in each phase) as JSON to REPORT.  Prints "ready" once
running.
"""
import json
import random
import signal
import sys
import time

UNIT = 20000


def work(n):
    x = 0
    for i in range(n):
        x += i % 7
    return x


def units(n):
    return int(n * UNIT * (0.5 + random.random()))


def phase_a():
    return work(units(5))


def phase_b():
    return work(units(3))


def phase_c():
    return work(units(2))


stop = []


def main():
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    clock = time.thread_time
    spent = {"a": 0.0, "b": 0.0, "c": 0.0}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    t = clock()
    while not stop:
        phase_a()
        now = clock()
        spent["a"] += now - t
        phase_b()
        t = clock()
        spent["b"] += t - now
        phase_c()
        now = clock()
        spent["c"] += now - t
        t = now
    with open(sys.argv[1], "w") as f:
        json.dump(spent, f)


main()
