"""Layer tables and mult-adds against the design documents' torchinfo summaries."""

import pytest

import colorizekit
from colorizekit.cli import main
from colorizekit.complexity import format_summary, summarize

DESIGN = {"unet-rgb": ("436.66", 31_042_499), "jkspnet-lab": ("570.51", 17_639_339)}


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_mult_adds_match_design(name):
    s = summarize(colorizekit.create_model(name), (32, 1, 128, 128), name)
    assert f"{s.mult_adds / 1e9:.2f}" == DESIGN[name][0]
    assert s.total_params == DESIGN[name][1]
    assert s.real_macs <= s.mult_adds


def test_jkspnet_table_has_the_design_rows():
    s = summarize(colorizekit.create_model("jkspnet-lab"), (32, 1, 128, 128))
    last = [(r.name, list(r.output_shape), r.params) for r in s.rows[-3:]]
    assert last == [("Conv2d: 1-16", [32, 313, 128, 128], 20345),
                    ("Softmax: 1-17", [32, 313, 128, 128], None),
                    ("Conv2d: 1-18", [32, 2, 128, 128], 626)]
    assert sum(r.params or 0 for r in s.rows) == 17_639_339
    assert "Total mult-adds (G): 570.51" in format_summary(s)


def test_cli_info_prints_totals(capsys):
    assert main(["info", "--model", "unet-rgb", "--batch-size", "2", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 31,042,499" in out and "[2, 3, 32, 32]" in out


def test_cli_info_unknown_model(capsys):
    assert main(["info", "--model", "nope"]) == 2
    assert "available models" in capsys.readouterr().err


def test_one_photo_goes_through_the_model_whatever_the_batch():
    model = colorizekit.create_model("unet-rgb")
    seen = []
    model.register_forward_pre_hook(lambda module, inputs: seen.append(tuple(inputs[0].shape)))
    s = summarize(model, (32, 1, 64, 64))
    assert seen == [(1, 1, 64, 64)]  # 32 x less work than the batch: `colorizekit info` answers at once
    assert s.input_shape == (32, 1, 64, 64) and s.rows[-1].output_shape[0] == 32
    assert s.mult_adds == 32 * summarize(model, (1, 1, 64, 64)).mult_adds
