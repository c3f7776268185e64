"""The main thread blocks in module-level code."""
import threading
import time

import _reporter


def worker():
    _reporter.ready()
    threading.Event().wait()


_reporter.start_thread("worker", worker)
_reporter.start(expected=2)
_reporter.ready()
time.sleep(_reporter.FOREVER)
