"""Layer tables and mult-adds against the design documents' torchinfo summaries."""

import re

import pytest
from torch import nn

import colorizekit
from colorizekit.cli import main
from colorizekit.models.complexity import REFERENCE_MODEL, format_summary, relative_cost, summarize, summarize_model

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


def test_linear_layers_count_as_torchinfo_counts_them():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 5))
    s = summarize(model, (3, 1, 4, 4))
    assert s.real_macs == 3 * (16 * 18 + 32 * 5)  # conv: positions x weights; linear: weights, once per photo
    assert s.mult_adds == 3 * (16 * 20 + 165)  # (weights + biases) x output positions


def test_cli_info_lists_every_model_with_params_real_macs_and_ratio_to_the_reference(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out.split("shipped weights")[0]  # the cost table, not the weights list below it
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.split() and line.split()[0] in
             colorizekit.list_models()}
    assert sorted(lines) == colorizekit.list_models()
    counts = {name: summarize(colorizekit.create_model(name), (1, 1, 128, 128)) for name in lines}
    for name, line in lines.items():
        s = counts[name]
        assert f"{s.total_params:,}" in line and f"{s.real_macs / 1e9:.2f} G" in line, line
        if name == REFERENCE_MODEL:
            assert "the reference" in line
        else:
            assert relative_cost(s.real_macs, counts[REFERENCE_MODEL].real_macs) in line
    lite = re.search(r"1/(\d+\.\d) of jkspnet-lab", lines["lite-unet-bins"])
    assert lite and float(lite.group(1)) == round(counts["jkspnet-lab"].real_macs / counts["lite-unet-bins"].real_macs, 1)
    assert "1.05 x jkspnet-lab" in lines["unet-rgb"]
    assert "one 128 x 128 photo" in out


def test_relative_cost_reads_both_ways():
    assert relative_cost(100, 2365) == "1/23.6 of jkspnet-lab"
    assert relative_cost(105, 100, "m") == "1.05 x m"


def test_cli_info_bins_model_table(capsys):
    assert main(["info", "--model", "lite-unet-bins", "--batch-size", "2", "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    model = colorizekit.create_model("lite-unet-bins")
    assert "BinsHead: 1-10" in out and "[2, 261, 16, 16]" in out  # logits over the 261 bins at 1/4 resolution
    assert re.search(r"Linear: 3-\d+ +\[2, 256\] +65,792", out)  # the global-context layers, per photo
    assert f"Total params: {sum(p.numel() for p in model.parameters()):,}" in out
    rows = summarize_model("lite-unet-bins", (2, 1, 64, 64)).rows
    assert sum(r.params or 0 for r in rows) == sum(p.numel() for p in model.parameters())


def test_cli_info_refuses_a_size_the_model_cannot_take(capsys):
    assert main(["info", "--model", "lite-unet-bins", "--image-size", "100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "colorizekit info: error: model 'lite-unet-bins' needs sides that are multiples of 32; got 100 x 100"
