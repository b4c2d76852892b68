"""Export to ONNX: every model, dynamic batch and size, decoding and vividness in the graph, metadata,
the CLI, and the cache of exports made on first use."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from colorizekit import color
from colorizekit.cli import main
from colorizekit.models import create_model, get_model_info, list_models
from colorizekit.models.modes import ColorMode
from colorizekit.onnx.cache import cached_onnx
from colorizekit.onnx.export import DecodedModel, input_normalisation
from colorizekit.onnx.rewrite import fuse_softmax_expectations, winograd_convs
from colorizekit.version import __version__
from colorizekit.weights import DEFAULT_MODEL, load_weights

BINS_MODELS = [m for m in list_models() if get_model_info(m).mode.supports_vividness]


def _session(path_or_bytes) -> ort.InferenceSession:
    source = path_or_bytes if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def _torch_decoded(weights, options: dict) -> DecodedModel:
    loaded = load_weights(weights)
    model = create_model(loaded.model_name, **loaded.model_config)
    model.load_state_dict(loaded.state_dict)
    return DecodedModel(model.eval(), get_model_info(loaded.model_name).mode, list(options))


@pytest.mark.parametrize("model", list_models())
def test_every_model_exports_with_dynamic_batch_and_size_and_matches_torch(exported, model):
    weights, onnx_file = exported(model)
    info = get_model_info(model)
    session = _session(onnx_file)
    options = json.loads(session.get_modelmeta().custom_metadata_map["decode_inputs"])
    reference = _torch_decoded(weights, options)
    m = info.size_multiple
    for batch, (h, w) in ((1, (2 * m, 3 * m)), (3, (5 * m, 2 * m))):  # neither the export's batch nor its shape
        x = torch.rand(batch, 1, h, w, generator=torch.Generator().manual_seed(batch)) - 0.5
        feed = {"input": x.numpy(), **{k: np.array([v], np.float32) for k, v in options.items()}}
        ab = session.run(["ab"], feed)[0]
        assert ab.shape == (batch, 2, h // info.output_stride, w // info.output_stride)
        with torch.no_grad():
            expected = reference(x, *(torch.tensor([v]) for v in options.values())).numpy()
        assert np.abs(ab - expected).max() < 1e-3 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("model", ["jkspnet-lab", *BINS_MODELS])
def test_softmax_over_channels_is_fused_with_its_expectation(exported, model):
    import onnx

    ops = [node.op_type for node in onnx.load(str(exported(model)[1])).graph.node]
    softmaxes = 2 if model in BINS_MODELS else 1  # the bins decoding: p and p tilted towards chroma
    # onnxruntime's slow axis-1 Softmax is gone
    assert "Softmax" not in ops and "Einsum" not in ops and ops.count("Exp") == softmaxes


def _softmax_graph(consumer: str, q: int = 5, out: int = 2):
    """(model, weights (out, q)): x (N, q, H, W) -> Softmax(axis 1) -> a 1x1 Conv, an Einsum with the
    weights, or a Relu (no expectation: left alone)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(out, q)).astype(np.float32)
    nodes = [helper.make_node("Softmax", ["x"], ["p"], axis=1)]
    inits = []
    if consumer == "conv":
        nodes.append(helper.make_node("Conv", ["p", "w"], ["y"], kernel_shape=[1, 1]))
        inits.append(numpy_helper.from_array(w[:, :, None, None], "w"))
    elif consumer == "einsum":
        nodes += [helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w.T.copy())),
                  helper.make_node("Einsum", ["p", "w"], ["y"], equation="nqhw,qc->nchw")]
    else:
        nodes.append(helper.make_node("Relu", ["p"], ["y"]))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, q, None, None])
    graph = helper.make_graph(nodes, "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), w


@pytest.mark.parametrize("consumer", ["conv", "einsum"])
def test_fused_softmax_expectation_is_the_same_function_and_does_not_overflow(consumer):
    import onnx

    model, w = _softmax_graph(consumer)
    assert fuse_softmax_expectations(model) == 1
    onnx.checker.check_model(model)
    ops = [node.op_type for node in model.graph.node]
    assert "Softmax" not in ops and "Einsum" not in ops and "Constant" not in ops
    x = np.random.default_rng(1).normal(size=(2, 5, 3, 4)).astype(np.float32) * 3
    x[0, 2, 0, 0] = 1000.0  # exp(1000) overflows float32: the maximum must be taken out first
    x[1, :, 1, 1] = -1000.0
    p = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    expected = np.einsum("nqhw,oq->nohw", p / p.sum(axis=1, keepdims=True), w)
    got = _session(model.SerializeToString()).run(["y"], {"x": x})[0]
    assert np.isfinite(got).all() and np.abs(got - expected).max() < 1e-5


def test_a_softmax_without_an_expectation_is_left_alone():
    model, _ = _softmax_graph("relu")
    assert fuse_softmax_expectations(model) == 0
    assert [node.op_type for node in model.graph.node] == ["Softmax", "Relu"]


def _conv_graph(kernel: int, channels: int = 8, bias: bool = True, **attributes):
    """(model, weights, bias): x (N, channels, H, W) -> one Conv to channels + 1 outputs."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(kernel)
    w = rng.normal(size=(channels + 1, channels, kernel, kernel)).astype(np.float32)
    b = rng.normal(size=channels + 1).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if bias else [])
    node = helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["y"], kernel_shape=[kernel, kernel],
                            **attributes)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, channels, None, None])
    graph = helper.make_graph([node], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, None, None])],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("kernel,attributes", [
    (3, {"pads": [1, 1, 1, 1]}), (3, {"auto_pad": "SAME_UPPER"}), (2, {"auto_pad": "SAME_UPPER"}),
    (2, {"auto_pad": "SAME_LOWER"}), (2, {"pads": [1, 0, 0, 1]}),
])
@pytest.mark.parametrize("bias", [True, False])
def test_winograd_conv_is_the_same_conv_at_any_batch_and_size(kernel, attributes, bias):
    import onnx

    model = _conv_graph(kernel, bias=bias, **attributes)
    direct = _session(model.SerializeToString())
    assert winograd_convs(model, min_channels=8) == 1
    onnx.checker.check_model(model)
    assert "MatMul" in [node.op_type for node in model.graph.node]
    rewritten = _session(model.SerializeToString())
    for shape in ((1, 8, 16, 24), (3, 8, 13, 7), (2, 8, 1, 5)):  # tiles of 4 fit, do not fit, a single row
        x = np.random.default_rng(sum(shape)).normal(size=shape).astype(np.float32)
        want, got = direct.run(["y"], {"x": x})[0], rewritten.run(["y"], {"x": x})[0]
        assert got.shape == want.shape == (shape[0], 9, *shape[2:])
        assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()


@pytest.mark.parametrize("kernel,attributes", [
    (3, {"pads": [1, 1, 1, 1], "strides": [2, 2]}), (3, {"pads": [2, 2, 2, 2], "dilations": [2, 2]}),
    (3, {"pads": [0, 0, 0, 0]}), (1, {}), (5, {"pads": [2, 2, 2, 2]}), (2, {"pads": [0, 0, 0, 0]}),
])
def test_convs_winograd_does_not_fit_stay_direct(kernel, attributes):
    model = _conv_graph(kernel, **attributes)
    assert winograd_convs(model, min_channels=8) == 0
    assert winograd_convs(_conv_graph(3, channels=4, pads=[1, 1, 1, 1]), min_channels=8) == 0  # too few channels
    assert [node.op_type for node in model.graph.node] == ["Conv"]


def test_export_without_winograd_keeps_direct_convs(tmp_path, make_weights):
    import onnx
    from colorizekit.onnx.export import export_onnx

    weights = make_weights("lite-unet-bins")
    ops = {flag: [n.op_type for n in onnx.load(str(export_onnx(tmp_path / f"{flag}.onnx", weights=weights,
                                                                  winograd=flag))).graph.node]
           for flag in (True, False)}
    assert "MatMul" in ops[True] and "MatMul" not in ops[False]


@pytest.mark.parametrize("model", list_models())
def test_metadata_says_what_the_file_is(exported, model):
    info = get_model_info(model)
    meta = _session(exported(model)[1]).get_modelmeta().custom_metadata_map
    assert meta["format"] == "colorizekit-onnx" and meta["model"] == model
    assert meta["color_mode"] == info.color_mode and meta["colorizekit_version"] == __version__
    assert int(meta["size_multiple"]) == info.size_multiple and int(meta["output_stride"]) == info.output_stride
    assert json.loads(meta["card"]) == {"test": True}
    norm = json.loads(meta["normalisation"])  # following it by hand must give the mode's own input
    gray = torch.linspace(0, 1, 57, dtype=torch.float64).view(1, 1, 1, -1)
    source = {"gray": gray, "L": color.gray_to_l(gray)}[norm["input_from"]]
    assert torch.allclose((source - norm["center"]) / norm["scale"], info.mode.input_from_gray(gray), atol=1e-9)
    assert set(json.loads(meta["decode_inputs"])) == set(info.mode.decode_options())


def test_normalisations_of_the_modes():
    assert input_normalisation(get_model_info("unet-rgb").mode) == {"input_from": "gray", "center": 0.0, "scale": 1.0}
    assert input_normalisation(get_model_info("jkspnet-lab").mode) == {"input_from": "L", "center": 50.0, "scale": 100.0}


def test_an_input_the_metadata_cannot_describe_is_refused():
    class Squared(ColorMode):
        name = "squared"

        def input_from_gray(self, gray):
            return gray ** 2

    with pytest.raises(ValueError, match="colour mode 'squared'.*not an affine function"):
        input_normalisation(Squared())


@pytest.mark.parametrize("model", BINS_MODELS)
def test_bins_vividness_is_a_graph_input(exported, model):
    weights, onnx_file = exported(model)
    session = _session(onnx_file)
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["decode_inputs"]) == {"vividness": pytest.approx(0.5)}  # DEFAULT_VIVIDNESS
    m = get_model_info(model).size_multiple
    x = torch.rand(1, 1, 2 * m, 2 * m, generator=torch.Generator().manual_seed(0)) - 0.5
    reference = _torch_decoded(weights, {"vividness": None})
    results = {}
    for v in (0.0, 1.0):
        results[v] = session.run(["ab"], {"input": x.numpy(), "vividness": np.array([v], np.float32)})[0]
        with torch.no_grad():
            expected = reference(x, torch.tensor([v])).numpy()
        assert np.abs(results[v] - expected).max() < 1e-3
    assert np.abs(results[1.0]).mean() > np.abs(results[0.0]).mean() + 0.1  # more vivid


def test_cli_export(tmp_path, make_weights, capsys):
    weights = make_weights("lite-unet-bins")
    out = tmp_path / "sub" / "lite.onnx"
    assert main(["export", "--weights", str(weights), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert _session(out).get_modelmeta().custom_metadata_map["model"] == "lite-unet-bins"
    assert main(["export", "--model", "unet-rgb", "--weights", str(weights), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "not 'unet-rgb'" in err


def test_cli_export_without_model_exports_the_default_models_shipped_weights(tmp_path, make_weights, monkeypatch,
                                                                             capsys):
    from colorizekit.weights import resolve

    monkeypatch.setattr(resolve, "WEIGHTS_DIR", tmp_path / "none")
    assert main(["export", "-o", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"no trained weights ship with colorizekit for model {DEFAULT_MODEL!r}" in err
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    make_weights(DEFAULT_MODEL).rename(shipped / f"{DEFAULT_MODEL}.safetensors")
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", shipped)
    monkeypatch.chdir(tmp_path)
    assert main(["export"]) == 0
    meta = _session(tmp_path / f"{DEFAULT_MODEL}.onnx").get_modelmeta().custom_metadata_map
    assert meta["model"] == DEFAULT_MODEL


def test_cache_exports_once_per_weights_file(tmp_path, make_weights, monkeypatch):
    from colorizekit.onnx import export

    monkeypatch.setenv("COLORIZEKIT_CACHE", str(tmp_path / "cache"))
    weights = make_weights("lite-unet-bins", seed=1)
    first = cached_onnx(weights)
    assert first.parent == tmp_path / "cache" / "onnx" and first.is_file()

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    with monkeypatch.context() as m:
        m.setattr(export, "write_onnx", no_export)
        assert cached_onnx(weights) == first  # the same bytes: the cached file
    other = make_weights("lite-unet-bins", seed=2)  # other weights, same name: a new export
    assert cached_onnx(other) != first and len(list(first.parent.glob("*.onnx"))) == 2
    monkeypatch.setattr(export, "GRAPH_REVISION", export.GRAPH_REVISION + 1)  # export writes another graph now
    assert cached_onnx(weights) != first and len(list(first.parent.glob("*.onnx"))) == 3


def test_cache_that_cannot_be_written_is_one_line(tmp_path, make_weights, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COLORIZEKIT_CACHE", str(blocker))
    with pytest.raises(ValueError, match="cannot write its ONNX export to the cache") as info:
        cached_onnx(make_weights("lite-unet-bins"))
    assert "\n" not in str(info.value) and "COLORIZEKIT_CACHE" in str(info.value)
