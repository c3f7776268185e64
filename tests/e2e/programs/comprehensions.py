"""Blocking inside comprehensions (inlined into their function from 3.12)
and generator expressions (never inlined)."""
import time

import _reporter

FOREVER = _reporter.FOREVER


def in_listcomp():
    return [time.sleep(FOREVER) for _ in [_reporter.ready()]]


def in_dictcomp():
    return {k: time.sleep(FOREVER) for k in [_reporter.ready()]}


def in_setcomp():
    return {time.sleep(FOREVER) for _ in [_reporter.ready()]}


def in_genexpr():
    return list(time.sleep(FOREVER) for _ in [_reporter.ready()])


def in_nested():
    return [[time.sleep(FOREVER) for _ in [y]] for y in [_reporter.ready()]]


def lambda_in_comp():
    return [(lambda: time.sleep(FOREVER))() for _ in [_reporter.ready()]]


def main():
    _reporter.start_thread("listcomp", in_listcomp)
    _reporter.start_thread("dictcomp", in_dictcomp)
    _reporter.start_thread("setcomp", in_setcomp)
    _reporter.start_thread("genexpr", in_genexpr)
    _reporter.start_thread("nested", in_nested)
    _reporter.start_thread("lambda", lambda_in_comp)
    _reporter.start(expected=7)


main()
# The main thread blocks in a comprehension at module level.
[time.sleep(FOREVER) for _ in [_reporter.ready()]]
