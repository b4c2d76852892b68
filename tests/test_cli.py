"""The command-line layer: every subcommand has --help, a version flag, `python -m colorizekit`."""

import subprocess
import sys

import pytest

from colorizekit import __version__
from colorizekit.cli import build_parser, main

SUBCOMMANDS = ["info", "colorize", "export", "demo", "train", "evaluate", "compare", "serve"]


def test_all_subcommands_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: colorizekit {command}" in capsys.readouterr().out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"colorizekit {__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_python_dash_m():
    out = subprocess.run([sys.executable, "-m", "colorizekit", "info"], capture_output=True, text=True, check=True)
    assert "jkspnet-lab" in out.stdout and "unet-rgb" in out.stdout
