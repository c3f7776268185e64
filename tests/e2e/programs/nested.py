"""Nested functions, closures, lambdas and decorators."""
import functools
import time

import _reporter


def outer():
    def middle():
        def inner():
            _reporter.ready()
            time.sleep(_reporter.FOREVER)
        return inner()
    return middle()


def logged(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args)
    return wrapper


@logged
def decorated():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


block = lambda: (_reporter.ready(),
                 time.sleep(_reporter.FOREVER))
call_lambda = lambda: (lambda f: f())(block)


def make_closure(n):
    def closure():
        if n:
            _reporter.ready()
            time.sleep(_reporter.FOREVER)
    return closure


def main():
    _reporter.start_thread("closure", outer)
    _reporter.start_thread("decorated", decorated)
    _reporter.start_thread("lambda", call_lambda)
    _reporter.start_thread("made-closure", make_closure(1))
    _reporter.start(expected=5)
    (lambda: outer())()


if __name__ == "__main__":
    main()
