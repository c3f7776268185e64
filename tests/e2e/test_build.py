"""The Makefile builds the modules of the platform being built for only: a
source file of another platform's backend (which includes that platform's
headers) is never compiled here.  Checked on a scratch tree holding the
repository's Makefile, by asking make what it would build."""
import shutil
import subprocess

from conftest import ROOT

PRINT = "print: ; @echo HOST=$(HOST); echo BACKENDS=$(BACKEND_SO); echo CORE=$(CORE_SRC)\n"


def make_vars(tree, *args):
    r = subprocess.run(["make", "-s", "-C", str(tree), "-f", "Makefile", "-f", "print.mk",
                        "print", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in r.stdout.splitlines())


def test_only_this_platforms_backend(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "print.mk").write_text(PRINT)
    for d, f, text in [("backends/linux", "a.c", "int a;\n"),
                       ("backends/windows", "w.c", "#include <windows.h>\n"),
                       ("backends/macos", "m.c", "#include <mach/mach.h>\n"),
                       ("host", "linux.c", ""), ("host", "linux_elf.c", ""), ("host", "linux_files.c", ""),
                       ("host", "windows.c", "#include <windows.h>\n")]:
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
        (tmp_path / d / f).write_text(text)
    v = make_vars(tmp_path)
    assert v["HOST"] == "linux"
    assert v["BACKENDS"].split() == ["build/modules/backends/linux.so"]
    assert sorted(v["CORE"].split()) == ["host/linux.c", "host/linux_elf.c", "host/linux_files.c"]
    # the same tree built for Windows takes Windows' files only
    v = make_vars(tmp_path, "HOST=windows")
    assert v["BACKENDS"].split() == ["build/modules/backends/windows.so"]
    assert v["CORE"].split() == ["host/windows.c"]
