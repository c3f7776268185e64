"""Every Python interpreter the end-to-end tests run against.

An interpreter that is absent on this machine is still listed, so that the
test using it is reported as skipped by name (a skip never counts as a pass).
"""
import os
import pathlib
import subprocess

import pytest


class Interpreter:
    def __init__(self, name, argv, version=None, note=""):
        self.name = name          # "pyenv-3.9.18", "debian-3.11", ...
        self.argv = list(argv)    # command that starts it (python executable first)
        self.version = version    # (major, minor) when known
        self.note = note

    @property
    def present(self):
        exe = self.argv[0]
        return os.path.exists(exe) and os.access(exe, os.X_OK)

    def require(self):
        """Skip the calling test, naming the interpreter, when it is absent."""
        if not self.present:
            pytest.skip(f"interpreter {self.name} not present ({self.argv[0]})")
        return self

    def __repr__(self):
        return f"Interpreter({self.name})"


def _pyenv_root():
    try:
        return subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or os.path.expanduser("~/.pyenv")
    except (OSError, subprocess.SubprocessError):
        return os.path.expanduser("~/.pyenv")


PYENV_VERSIONS = ["2.7.18", "3.6.15", "3.7.16", "3.8.18", "3.9.18", "3.10.13",
                  "3.11.7", "3.12.1", "3.13.0"]


def all_interpreters():
    root = pathlib.Path(_pyenv_root()) / "versions"
    found = []
    for v in PYENV_VERSIONS:
        major, minor = map(int, v.split(".")[:2])
        found.append(Interpreter(f"pyenv-{v}", [str(root / v / "bin" / "python")], (major, minor)))
    found.append(Interpreter("debian-3.11", ["/usr/bin/python3.11"], (3, 11)))
    return found


def heavy_interpreters():
    """One interpreter <= 3.10 and one >= 3.11 for the heavier tests."""
    byname = {i.name: i for i in all_interpreters()}
    return [byname["pyenv-3.9.18"], byname["debian-3.11"]]
