"""Shared fixtures of the end-to-end tests: the py-spy builds, the
interpreters present on this machine, and a way to start target programs."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import interpreters  # noqa: E402  (tests/e2e/interpreters.py)

PYSPY = ROOT / "build" / "py-spy"
PYSPY_ASAN = ROOT / "build-asan" / "py-spy"


def run_pyspy(args, binary=PYSPY, timeout=60, **kw):
    """Run py-spy; returns CompletedProcess with text stdout/stderr."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.update(kw.pop("env", {}))
    return subprocess.run([str(binary)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, env=env, **kw)


@pytest.fixture(scope="session")
def pyspy():
    if not PYSPY.exists():
        pytest.fail("build/py-spy is not built: run make")
    return PYSPY


def pytest_generate_tests(metafunc):
    # A test that takes `interp` runs against every interpreter known to
    # tests/e2e/interpreters.py; absent ones are reported as skipped by name.
    if "interp" in metafunc.fixturenames:
        allv = interpreters.all_interpreters()
        metafunc.parametrize("interp", allv, ids=[i.name for i in allv])
    if "heavy_interp" in metafunc.fixturenames:
        heavy = interpreters.heavy_interpreters()
        metafunc.parametrize("heavy_interp", heavy, ids=[i.name for i in heavy])
