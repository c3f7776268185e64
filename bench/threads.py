"""Benchmark workload with many threads.

Usage: threads.py SECONDS N busy|sleepy.  busy: N threads each run a
CPU-bound Python loop (they share the GIL); sleepy: N threads wake every
10 ms and sleep again, the main thread runs the loop.  Prints "ready <pid>",
works for SECONDS, then prints "work <loops per second>" (all threads).
"""
import os
import sys
import threading
import time


def loop():
    x = 0
    for i in range(20000):
        x += i
    return x


def main():
    seconds, n, mode = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    counts = [0] * (n + 1)
    end = [0.0]
    go = threading.Event()  # all start together: none competes for the GIL while the others start

    # Every thread watches the clock itself: with 200 threads asking for
    # the GIL, the main thread could wait long for it.
    def busy(k):
        go.wait()
        while time.time() < end[0]:
            loop()
            counts[k] += 1

    def sleepy(k):
        go.wait()
        while time.time() < end[0]:
            time.sleep(0.01)

    threads = [threading.Thread(target=busy if mode == "busy" else sleepy, args=(k,))
               for k in range(n)]
    for t in threads:
        t.daemon = True
        t.start()
    t0 = time.time()
    end[0] = t0 + seconds
    go.set()
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    while mode != "busy" and time.time() < end[0]:
        loop()
        counts[n] += 1
    for t in threads:
        t.join()
    sys.stdout.write("work %f\n" % (sum(counts) / (time.time() - t0)))
    sys.stdout.flush()


main()
