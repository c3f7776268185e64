"""Methods: instance, class and static methods, a property, __init__,
__call__, and a method reached through super()."""
import time

import _reporter


def block():
    _reporter.ready()
    time.sleep(_reporter.FOREVER)


class Base(object):
    def method(self):
        _reporter.ready()
        time.sleep(_reporter.FOREVER)

    @classmethod
    def klass(cls):
        _reporter.ready()
        time.sleep(_reporter.FOREVER)

    @staticmethod
    def static():
        _reporter.ready()
        time.sleep(_reporter.FOREVER)

    @property
    def prop(self):
        _reporter.ready()
        time.sleep(_reporter.FOREVER)

    def __call__(self):
        _reporter.ready()
        time.sleep(_reporter.FOREVER)


class Derived(Base):
    def __init__(self, blocking=False):
        if blocking:
            block()

    def method(self):
        return super(Derived, self).method()


def get_prop():
    return Base().prop


def main():
    _reporter.start_thread("method", Base().method)
    _reporter.start_thread("classmethod", Base.klass)
    _reporter.start_thread("staticmethod", Base.static)
    _reporter.start_thread("property", get_prop)
    _reporter.start_thread("call", Base())
    _reporter.start_thread("init", Derived, True)
    _reporter.start(expected=7)
    Derived().method()


if __name__ == "__main__":
    main()
