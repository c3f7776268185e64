"""What py-spy loads is the file it checked: a module reached through a
link or folder someone else could change is refused as root, a truncated
module is refused with one line naming it (it used to kill py-spy with
SIGBUS inside the dynamic loader), and a module reached through links in
folders only root can change still works."""
import os
import subprocess
import sys

import pytest

from conftest import run_pyspy
from test_plugins_config import MODULES, env, error_line, real_ini, rows  # noqa: F401

DUMP = MODULES / "outputs" / "dump.so"


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("the folder rule applies when py-spy runs as root")


@pytest.fixture
def target():
    """A Python process sleeping in its main module, once it says so."""
    p = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); "
                          "time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    yield p.pid
    p.kill()
    p.wait()


def dumped_ok(r, pid):
    assert r.returncode == 0, r.stderr
    assert f"Process {pid}" in r.stdout, r.stdout
    assert "<module> (<string>:1)" in r.stdout, r.stdout


def test_truncated_module(pyspy, env, tmp_path, target):
    t = tmp_path / "t.so"
    t.write_bytes(DUMP.read_bytes()[:3000])  # head -c 3000 dump.so > t.so
    t.chmod(0o755)
    ini = real_ini(tmp_path, t)
    r = run_pyspy(["--config", ini, "dump", "--pid", target], env=env)
    assert r.returncode == 1, (r.returncode, r.stderr)  # not -SIGBUS
    line = error_line(r)
    assert f"{ini}:6: [outputs] dump: {t}: truncated" in line, line
    assert "rebuild or reinstall it" in line

    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    assert "FAILED: truncated" in rows(r.stdout)[1]["dump"]


def test_link_in_folder_others_may_write(pyspy, env, tmp_path, target):
    needs_root()
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    link = folder / "dump.so"
    link.symlink_to(DUMP)
    ini = real_ini(tmp_path, link)
    r = run_pyspy(["--config", ini, "dump", "--pid", target], env=env)
    assert r.returncode == 1
    line = error_line(r)
    assert f"[outputs] dump: {link}: cannot open: the folder" in line, line
    # the whole reason, as py-spy plugins lists it
    r = run_pyspy(["--config", ini, "plugins"], env=env)
    assert r.returncode == 1
    row = rows(r.stdout)[1]["dump"]
    assert f"FAILED: cannot open: the folder {folder} is writable by others" in row, row
    assert f"chmod go-w {folder}" in row

    # the same link in a folder only root can write is followed
    folder.chmod(0o755)
    dumped_ok(run_pyspy(["--config", ini, "dump", "--pid", target], env=env), target)


def test_ini_in_folder_others_may_write(pyspy, env, tmp_path, target):
    needs_root()
    folder = tmp_path / "open"
    folder.mkdir()
    ini = real_ini(folder, DUMP)
    folder.chmod(0o777)
    r = run_pyspy(["--config", ini, "dump", "--pid", target], env=env)
    assert r.returncode == 1
    line = error_line(r)
    assert f"{ini}: cannot read: the folder {folder} is writable by others" in line, line
    folder.chmod(0o755)
    dumped_ok(run_pyspy(["--config", ini, "dump", "--pid", target], env=env), target)
