"""Adding a Python version is new modules and plugins.ini, never a core edit.

* A layout module is generated from one version's headers into a temporary
  folder (tools/genlayout), built with the module flags, and used through a
  plugins.ini of its own that lists it and the other versions' shipped
  modules, without that version's: `dump` stays exact.
  (A version without a module read through its own _Py_DebugOffsets:
  test_runtime_offsets.py.)
"""
import os
import shutil
import subprocess
import sys
import time

import pytest

import interpreters
from conftest import ROOT, run_pyspy

PROGRAM = """\
import sys, time
def innermost():
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    while True:
        time.sleep(0.05)
def middle():
    innermost()
middle()
"""


def start(interp, tmp_path):
    script = tmp_path / "target.py"
    script.write_text(PROGRAM)
    p = subprocess.Popen(interp.command(script), stdout=subprocess.PIPE, text=True,
                         env=interp.environ())
    line = p.stdout.readline()
    assert line == "ready\n", f"{interp.name} did not start: {line!r}"
    return p, script


def plugins_ini(tmp_path, layout_dir):
    """A plugins.ini naming the shipped backend and outputs by absolute path
    and only the layouts in layout_dir."""
    mods = ROOT / "build" / "modules"
    outputs = "\n".join(f"{p.stem} = {p}" for p in sorted((mods / "outputs").glob("*.so")))
    ini = tmp_path / "plugins.ini"
    ini.write_text(f"[backend]\nlinux = {mods / 'backends' / 'linux.so'}\n\n"
                   f"[layouts]\nscan = {layout_dir}\n\n[outputs]\n{outputs}\n")
    ini.chmod(0o644)
    return ini


def shipped_layouts_except(tmp_path, prefix):
    d = tmp_path / "layouts"
    d.mkdir()
    for so in sorted((ROOT / "build" / "modules" / "layouts").glob("*.so")):
        if not so.name.startswith(prefix):
            shutil.copy(so, d / so.name)
    d.chmod(0o755)
    return d


def build_layout(src, out):
    cmd = [os.environ.get("CC", "cc"), "-std=c11", "-O2", "-fPIC", "-fvisibility=hidden",
           "-I" + str(ROOT / "include"), "-shared", "-Wl,-z,defs", "-o", str(out), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out.chmod(0o755)


def test_generated_layout_through_plugins_ini_alone(tmp_path):
    interp = interpreters.by_name("pyenv-3.12.1").require()
    inc = os.path.join(interpreters._pyenv_root(), "versions", "3.12.1", "include", "python3.12")
    if not os.path.exists(os.path.join(inc, "patchlevel.h")):
        pytest.skip(f"no headers of 3.12.1 at {inc}")
    gen = tmp_path / "gen"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "genlayout" / "genlayout.py"),
                        "--include", inc, "--label", "test", "--tested-live", "--out", str(gen)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    layouts = shipped_layouts_except(tmp_path, "cpython-3.12")
    build_layout(gen / "cpython-3.12.c", layouts / "cpython-3.12.so")
    ini = plugins_ini(tmp_path, layouts)

    p, script = start(interp, tmp_path)
    try:
        r = run_pyspy(["dump", "--config", ini, "--pid", p.pid, "-v"])
        assert r.returncode == 0, r.stderr
        # The module came from the temporary folder, by plugins.ini alone.
        assert f"{layouts}/cpython-3.12.so" in r.stderr or "layout cpython-3.12" in r.stderr, r.stderr
        lines = [l.strip() for l in r.stdout.splitlines()]
        want = [f"innermost ({script}:5)", f"middle ({script}:7)", f"<module> ({script}:8)"]
        got = [l for l in lines if l.startswith(("innermost", "middle", "<module>"))]
        full = run_pyspy(["dump", "--config", ini, "--pid", p.pid, "--full-filenames"])
        got_full = [l.strip() for l in full.stdout.splitlines()
                    if l.strip().startswith(("innermost", "middle", "<module>"))]
        assert got_full == want, full.stdout
        assert len(got) == 3, r.stdout
    finally:
        p.kill()
        p.wait()


def test_layout_of_another_machine_is_not_chosen(tmp_path):
    """A module is chosen only if it fits the target binary's machine and
    pointer size (from its ELF header), not only its version."""
    interp = interpreters.by_name("pyenv-3.12.1").require()
    layouts = shipped_layouts_except(tmp_path, "cpython-3.12")
    src = (ROOT / "layouts" / "cpython-3.12.c").read_text()
    assert '.arch = "x86_64"' in src
    for arch, psize in (("aarch64", "8"), ("x86_64", "4")):
        text = src.replace('.arch = "x86_64"', f'.arch = "{arch}"')
        text = text.replace(".pointer_size = 8,", f".pointer_size = {psize},")
        c = tmp_path / f"l-{arch}-{psize}.c"
        c.write_text(text)
        build_layout(c, layouts / "cpython-3.12.so")
        ini = plugins_ini(tmp_path, layouts)
        p, _ = start(interp, tmp_path)
        try:
            r = run_pyspy(["dump", "--config", ini, "--pid", p.pid])
            assert r.returncode != 0, r.stdout
            assert "Python 3.12.1" in r.stderr and "has no layout module" in r.stderr, r.stderr
            assert "linux x86_64" in r.stderr, r.stderr
        finally:
            p.kill()
            p.wait()
