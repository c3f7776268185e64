"""The base case: the main thread and two named threads, each blocked in a
known function (time.sleep, Event.wait)."""
import threading
import time

import _reporter


def sleeper_inner():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


def sleeper():
    sleeper_inner()


def waiter():
    event = threading.Event()
    _reporter.ready()
    event.wait()


def main_block():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


def main():
    _reporter.start_thread("sleeper", sleeper)
    _reporter.start_thread("waiter", waiter)
    _reporter.start(expected=3)
    main_block()


if __name__ == "__main__":
    main()
