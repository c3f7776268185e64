"""Blocking inside comprehensions (inlined into their function from 3.12)
and generator expressions (never inlined)."""
import time

import _reporter

FOREVER = _reporter.FOREVER


# ready() is called inside the comprehension, one line above the blocking
# call: from 3.12 (and on 2.7) a list comprehension runs in its function's
# frame, and the reporter waits for every thread to leave its ready() line.
def in_listcomp():
    return [(_reporter.ready(),
             time.sleep(FOREVER)) for _ in [0]]


def in_dictcomp():
    return {k: (_reporter.ready(),
                time.sleep(FOREVER)) for k in [0]}


def in_setcomp():
    return {(_reporter.ready(),
             time.sleep(FOREVER)) for _ in [0]}


def in_genexpr():
    return list((_reporter.ready(),
                 time.sleep(FOREVER)) for _ in [0])


def in_nested():
    return [[(_reporter.ready(),
              time.sleep(FOREVER)) for _ in [y]] for y in [0]]


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
[(_reporter.ready(),
  time.sleep(FOREVER)) for _ in [0]]
