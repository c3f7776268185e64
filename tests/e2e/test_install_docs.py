"""The man page names every long option of core/cli.c's option table;
make install puts it and the bash completion where man and bash look;
the completion completes subcommands, each one's options and formats."""
import pathlib
import re
import subprocess

from conftest import ROOT, PYSPY


def table_long_options():
    src = (ROOT / "core" / "cli.c").read_text()
    table = src[src.index("record_opts[] = {"):src.index("#define NOPTS")]
    names = re.findall(r'\{ OPT_\w+, (?:\'.\'|0), "([\w-]+)"', table)
    assert len(names) >= 20, names
    return names


def test_man_page_names_every_long_option():
    man = (ROOT / "docs" / "py-spy.1").read_text()
    for name in table_long_options():
        assert "\\-\\-" + name.replace("-", "\\-") + "\\fR" in man, name


def complete(words, cword):
    script = (f"PATH={PYSPY.parent}:$PATH; source {ROOT / 'completion' / 'py-spy.bash'}; "
              f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={cword}; _py_spy; "
              "echo ${COMPREPLY[@]}")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_completion_subcommands_options_formats(pyspy):
    assert complete(["py-spy", "rec"], 1) == ["record"]
    assert set(complete(["py-spy", ""], 1)) == {"record", "top", "dump", "plugins"}
    dump = complete(["py-spy", "dump", "--"], 2)
    assert {"--json", "--locals", "--pid"} <= set(dump) and "--rate" not in dump
    record = complete(["py-spy", "record", "--"], 2)
    assert {"--rate", "--format", "--output"} <= set(record) and "--json" not in record
    formats = complete(["py-spy", "record", "-f", "''"], 3)
    assert {"flamegraph", "speedscope", "pprof", "chrometrace"} <= set(formats), formats


def test_make_install_puts_man_page_and_completion(pyspy, tmp_path):
    r = subprocess.run(["make", "-C", str(ROOT), "install", f"DESTDIR={tmp_path}", "PREFIX=/usr"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    man = tmp_path / "usr/share/man/man1/py-spy.1"
    comp = tmp_path / "usr/share/bash-completion/completions/py-spy"
    assert man.read_text() == (ROOT / "docs" / "py-spy.1").read_text()
    assert comp.read_text() == (ROOT / "completion" / "py-spy.bash").read_text()
    assert (tmp_path / "usr/bin/py-spy").exists()
