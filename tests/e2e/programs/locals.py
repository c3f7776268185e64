# -*- coding: utf-8 -*-
"""Target of tests/e2e/test_locals.py: a function whose arguments and locals
cover every type dump --locals shows; it writes its own view of them
(name -> repr(), arguments first, in declaration order) to the JSON file named
by argv[1], then waits to be dumped."""
from __future__ import print_function

import json
import sys
import time

PY3 = sys.version_info[0] >= 3


def target(a, b, *args, **kwargs):
    big = 3 ** 200
    neg = -12345678901234567890
    small = -7
    zero = 0
    f1 = 0.1
    f2 = 1e16
    f3 = -2.5e-7
    f4 = float("inf")
    f5 = 123456.0
    f6 = -0.0
    f7 = 1.0 / 3
    plain = "plain"
    # 2.7's str is bytes; its unicode is shown as <unicode at 0x...>.
    text = (u"caf\u00e9 \u65e5\u672c \"quoted\" it's\n\ttab\\ \x07 \u00a0 \U0001f600"
            if PY3 else "it's \"q\"\n")
    data = b"\x00\xffab'c"
    nested = (1, (2, (3,)), [None, True, False], ())
    lst = [1.5, "x", [], [[1]]]
    table = {"k": [1, 2], 3: (None,), 2.5: {"in": "ner"}}
    empty = {}
    members = set([3, 1, 2])
    frozen = frozenset(["a"])
    nothing = set()
    obj = object()
    captured = 42

    def inner():
        return captured
    names = ["a", "b", "args", "kwargs", "big", "neg", "small", "zero", "f1", "f2", "f3",
             "f4", "f5", "f6", "f7", "plain", "text", "data", "nested", "lst", "table",
             "empty", "members", "frozen", "nothing", "obj", "captured"]
    here = locals()
    view = [[n, repr(here[n]), n in ("a", "b", "args", "kwargs"), type(here[n]).__name__,
             id(here[n])] for n in names]
    with open(sys.argv[1] + ".tmp", "w") as f:
        json.dump(view, f)
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(0.05)


target(1, "two", 3, 4, kw=5)
