# Two busy threads with known functions, for the reader tests
# (tests/e2e/test_record_readers.py): the main thread runs
# reader_main -> reader_leaf, a thread named "ReaderWorker" runs
# reader_worker -> reader_leaf.  Prints "ready" once both run.
import sys
import threading


def reader_leaf(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def reader_worker(started):
    started.set()
    while True:
        reader_leaf(5000)


def reader_main():
    started = threading.Event()
    worker = threading.Thread(target=reader_worker, args=(started,), name="ReaderWorker")
    worker.daemon = True
    worker.start()
    started.wait()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        reader_leaf(5000)


reader_main()
