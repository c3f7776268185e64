"""Threads start and end in a loop while stable threads stay blocked: a
dump must not fail when a thread ends under it, and must list the stable
threads exactly."""
import threading
import time

import _reporter


def stable(n):
    _reporter.ready()
    if n == 0:
        time.sleep(_reporter.FOREVER)
    else:
        threading.Event().wait()


def short_lived(n):
    time.sleep(0.001 * (n % 4))


def churner():
    _reporter.ignore()
    n = 0
    while True:
        live = []
        for i in range(4):
            t = threading.Thread(target=short_lived, name="churn-%d" % n, args=(n,))
            t.daemon = True
            t.start()
            live.append(t)
            n += 1
        for t in live:
            t.join()
        time.sleep(0.002)


def main():
    _reporter.start_thread("stable-a", stable, 0)
    _reporter.start_thread("stable-b", stable, 1)
    _reporter.start_thread("stable-c", stable, 0)
    _reporter.start_thread("churner", churner)
    _reporter.start(expected=4, ignore_prefixes=("churn-", "churner"),
                    ignore_functions=("short_lived", "churner"))
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


if __name__ == "__main__":
    main()
