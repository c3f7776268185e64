# -*- coding: utf-8 -*-
"""Non-ASCII function, file, folder and thread names (Python 3 only): the
code is written at run time to a file with such a name and run from it."""
import io
import os
import sys
import tempfile

import _reporter

SRC = u'''
import threading
import time
import _reporter


def функция():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


def 函数():
    функция()


def 関数_ñ_é(event):
    _reporter.ready()
    event.wait()


def главная():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)
'''


def main():
    if sys.version_info[0] < 3:
        _reporter.skip("non-ASCII identifiers need Python 3")
    import threading
    top = tempfile.mkdtemp(prefix="pyspy-e2e-")
    _reporter.add_tempdir(top)
    folder = os.path.join(top, u"каталог_目录_📁")
    os.mkdir(folder)
    path = os.path.join(folder, u"модуль_模块_🐍.py")
    with io.open(path, "w", encoding="utf-8") as f:
        f.write(SRC)
    with io.open(path, encoding="utf-8") as f:
        ns = {}
        exec(compile(f.read(), path, "exec"), ns)
    _reporter.start_thread(u"поток-线程-🧵", ns[u"函数"])
    _reporter.start_thread(u"ascii-thread", ns[u"関数_ñ_é"], threading.Event())
    _reporter.start(expected=3)
    ns[u"главная"]()


if __name__ == "__main__":
    main()
