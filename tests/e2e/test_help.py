"""Each subcommand's --help describes its own options (generated from
core/cli.c's option table and its per-command masks), not the others'."""
import re

import pytest

from conftest import run_pyspy


def options(text):
    return set(re.findall(r"^  (?:-\w, )?\s*(--[\w-]+)", text, re.M))


@pytest.mark.parametrize("command,has,lacks", [
    ("record", {"--rate", "--output", "--format", "--duration", "--function", "--nolineno"},
     {"--json", "--locals", "--delay", "--dump", "--flame"}),
    ("top", {"--rate", "--delay", "--pid"},
     {"--json", "--locals", "--format", "--duration", "--nolineno", "--dump"}),
    ("dump", {"--locals", "--json", "--pid"},
     {"--rate", "--format", "--duration", "--delay", "--threads", "--dump"}),
])
def test_subcommand_help_shows_its_own_options(pyspy, command, has, lacks):
    for args in ([command, "--help"], [command, "-h"], ["--help", command]):
        r = run_pyspy(args)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"Usage: py-spy {command} "), r.stdout[:200]
        opts = options(r.stdout)
        assert has <= opts, (args, opts)
        assert not (lacks & opts), (args, opts & lacks)


def test_global_help_still_lists_every_command(pyspy):
    r = run_pyspy(["--help"])
    assert r.returncode == 0
    for command in ("record", "top", "dump", "plugins"):
        assert f"py-spy {command}" in r.stdout
    assert {"--json", "--rate", "--delay", "--format"} <= options(r.stdout)
