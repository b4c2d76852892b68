"""The command-line layer: every subcommand has --help, a version flag, `python -m colorizekit`."""

import subprocess
import sys

import pytest

from colorizekit.cli import build_parser, main
from colorizekit.version import __version__

SUBCOMMANDS = ["info", "colorize", "export", "build-page", "demo", "train", "evaluate", "compare", "serve"]


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


def test_info_lists_the_shipped_weights_and_their_measured_defaults(monkeypatch, tmp_path, capsys):
    from colorizekit.models import create_model
    from colorizekit.weights import export_weights, resolve

    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path)
    export_weights(tmp_path / "lite-unet-bins.safetensors", "lite-unet-bins",
                   create_model("lite-unet-bins").state_dict(),
                   card={"default_size": 96, "default_vividness": 0.2, "default_saturation": 1.3,
                        "shipped": {"wall_hours_in_completed_epochs": 3.94}})
    assert main(["info"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert lines["lite-unet-bins"].endswith("size 96, vividness 0.2, saturation 1.3; 3.9 hours of training "
                                            "(the default model: used when none is named)")
    assert "none yet: pass --weights FILE" in lines["jkspnet-lab"] and "none yet" in lines["unet-rgb"]
