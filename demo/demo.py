"""A small program to profile: a CPU-bound main thread and two named
worker threads, running until it is stopped (or for --seconds)."""
import sys
import threading
import time


def fibonacci(n):
    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)


def parse_records(count):
    total = 0
    for i in range(count):
        fields = ("%d,%d,%d" % (i, i * 2, i * 3)).split(",")
        total += sum(int(f) for f in fields)
    return total


def io_worker(stop):
    while not stop.is_set():
        time.sleep(0.05)


def cpu_worker(stop):
    while not stop.is_set():
        parse_records(2000)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3600.0
    stop = threading.Event()
    threads = [threading.Thread(target=io_worker, args=(stop,), name="io-worker"),
               threading.Thread(target=cpu_worker, args=(stop,), name="cpu-worker")]
    for t in threads:
        t.start()
    end = time.time() + seconds
    while time.time() < end:
        fibonacci(18)
    stop.set()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
