"""A model's complexity for `colorizekit info`: its layer table, parameter count and mult-adds, in the
layout of the design documents' torchinfo summaries, and every model's cost beside the design's
jkspnet-lab (`model_costs`, `format_model_list`).

Mult-adds follow torchinfo's convention, which the design's figures use: for every convolution,
transposed convolution and linear layer, (weights + biases) x output positions x batch; for
BatchNorm, its parameters x batch. Note that for a stride-2 transposed conv this convention counts
4x the arithmetic actually done (each *input* position meets the kernel once); `real_macs` below
gives the arithmetic count used for FLOP-utilisation figures.

The forward pass that finds the layers runs on one photo; shapes and counts are scaled to the batch
asked for. In eval mode every layer treats the photos of a batch alike, so the figures are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    """One row of a layer table."""

    name: str  # "Conv2d: 2-1"-style label: type, depth and index at that depth
    depth: int  # nesting depth below the model (1 = direct child)
    output_shape: tuple[int, ...]  # shape of the module's output tensor
    params: int | None  # parameters owned directly (leaf modules); None for containers


@dataclass(frozen=True)
class ModelSummary:
    """A model's layer table and totals for one input size."""

    model_name: str  # registry name
    input_shape: tuple[int, ...]  # (N, C, H, W) used for the count
    rows: tuple[LayerRow, ...]  # layers in call order
    total_params: int  # all parameters
    trainable_params: int  # parameters with requires_grad
    mult_adds: int  # torchinfo-convention mult-adds for the whole batch
    real_macs: int  # multiply-accumulates actually performed by convolutions and linear layers, whole batch


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def summarize(model: nn.Module, input_shape: tuple[int, int, int, int], model_name: str = "") -> ModelSummary:
    """Tabulate the model for a batch of `input_shape` (N, C, H, W): one forward pass on zeros of shape
    (1, C, H, W), on the model's device, scaled to N photos."""
    # longer than 60 lines: the forward hooks share the call list and the counters, as closures
    calls: list[list] = []  # [module, output shape] per call, in call order (a module may be called twice)
    open_calls: dict[nn.Module, list[int]] = {}
    depth: dict[nn.Module, int] = {}
    counts = {"mult_adds": 0, "real_macs": 0}

    def visit(module: nn.Module, d: int) -> None:
        for child in module.children():
            depth[child] = d
            visit(child, d + 1)

    visit(model, 1)

    def pre_hook(module: nn.Module, inputs: tuple) -> None:
        open_calls.setdefault(module, []).append(len(calls))
        calls.append([module, ()])

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor | list[torch.Tensor]) -> None:
        if isinstance(output, (list, tuple)):  # an encoder's feature maps: the row shows the deepest
            output = output[-1]
        calls[open_calls[module].pop()][1] = tuple(output.shape)
        n = output.shape[0]
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            counts["mult_adds"] += n * output.shape[2:].numel() * _own_params(module)
            per_position = module.weight.numel()
            positions = (inputs[0] if isinstance(module, nn.ConvTranspose2d) else output).shape[2:].numel()
            counts["real_macs"] += n * positions * per_position
        elif isinstance(module, nn.Linear):
            rows = output.shape[:-1].numel()  # one per photo (and per position, for a linear layer on a map)
            counts["mult_adds"] += rows * _own_params(module)
            counts["real_macs"] += rows * module.weight.numel()
        elif isinstance(module, nn.BatchNorm2d):
            counts["mult_adds"] += n * _own_params(module)

    handles = []
    for m in depth:
        handles.append(m.register_forward_pre_hook(pre_hook))
        handles.append(m.register_forward_hook(hook))
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape[1:]), device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()

    batch = input_shape[0]
    rows = []
    index_at_depth: dict[int, int] = {}
    for m, shape in calls:
        d = depth[m]
        index_at_depth[d] = index_at_depth.get(d, 0) + 1
        is_leaf = next(m.children(), None) is None
        rows.append(LayerRow(
            name=f"{type(m).__name__}: {d}-{index_at_depth[d]}",
            depth=d,
            output_shape=(batch, *shape[1:]) if shape else shape,
            params=_own_params(m) if is_leaf and _own_params(m) else None,
        ))
    return ModelSummary(
        model_name=model_name or type(model).__name__,
        input_shape=tuple(input_shape),
        rows=tuple(rows),
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        mult_adds=counts["mult_adds"] * batch,
        real_macs=counts["real_macs"] * batch,
    )


def format_summary(s: ModelSummary) -> str:
    """The summary as a text table like torchinfo's."""
    bar = "=" * 90
    lines = [bar, f"{'Layer (type:depth-idx)':<41}{'Output Shape':<26}{'Param #':>15}", bar, s.model_name]
    for r in s.rows:
        indent = "├─" if r.depth == 1 else "│    " * (r.depth - 1) + "└─"
        shape = str(list(r.output_shape)) if r.output_shape else "--"
        params = f"{r.params:,}" if r.params is not None else "--"
        lines.append(f"{indent + r.name:<41}{shape:<26}{params:>15}")
    lines += [
        bar,
        f"Input shape: {list(s.input_shape)}",
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.total_params - s.trainable_params:,}",
        f"Total mult-adds (G): {s.mult_adds / 1e9:.2f}",
        f"MACs actually performed (G): {s.real_macs / 1e9:.2f}",
        bar,
    ]
    return "\n".join(lines)


# -- every model, per photo ---------------------------------------------------------------------------

REFERENCE_MODEL = "jkspnet-lab"  # the design's L -> ab model: `colorizekit info` gives each model's cost beside it


def summarize_model(name: str, input_shape: tuple[int, int, int, int]) -> ModelSummary:
    """`summarize` for a registered model, built with its default config on the CPU. ValueError when the
    input's sides are not multiples of the model's size multiple."""
    import warnings

    from colorizekit.models import create_model, get_model_info

    multiple = get_model_info(name).size_multiple
    height, width = input_shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(f"model {name!r} needs sides that are multiples of {multiple}; got {height} x {width}")
    with warnings.catch_warnings():  # PyTorch's performance notes on the traced layers concern no one here
        warnings.simplefilter("ignore", UserWarning)
        return summarize(create_model(name), input_shape, name)


@dataclass(frozen=True)
class ModelCost:
    """A registered model's size and the arithmetic it does on one photo."""

    name: str  # registry name
    color_mode: str  # its colour mode
    description: str  # one line
    params: int  # all parameters
    real_macs: int  # multiply-accumulates actually performed on one photo (`ModelSummary.real_macs`)


def model_costs(image_size: int = 128) -> list[ModelCost]:
    """Every registered model's parameters and real mult-adds for one `image_size` x `image_size` photo."""
    from colorizekit.models import get_model_info, list_models

    costs = []
    for name in list_models():
        info = get_model_info(name)
        s = summarize_model(name, (1, 1, image_size, image_size))
        costs.append(ModelCost(name, info.color_mode, info.description, s.total_params, s.real_macs))
    return costs


def relative_cost(macs: int, reference_macs: int, reference: str = REFERENCE_MODEL) -> str:
    """`macs` beside `reference_macs`: "1/23.6 of jkspnet-lab" below it, "1.05 x jkspnet-lab" from it up."""
    ratio = macs / reference_macs
    return f"1/{1 / ratio:.1f} of {reference}" if ratio < 1 else f"{ratio:.2f} x {reference}"


def name_width(names: Iterable[str]) -> int:
    """The width of a column of model names: 16, or the longest name and two spaces."""
    return max(16, *(len(n) + 2 for n in names))


def format_model_list(costs: list[ModelCost], image_size: int, reference: str = REFERENCE_MODEL) -> str:
    """One line per model: name, colour mode, parameters, real mult-adds per photo, their ratio to
    `reference`'s, description."""
    reference_macs = next(c.real_macs for c in costs if c.name == reference)
    w = name_width(c.name for c in costs)
    lines = [f"{'model':<{w}}{'colour mode':<13}{'parameters':>11}{'mult-adds':>11}  {'beside ' + reference:<24}"
             "description"]
    for c in costs:
        relative = "the reference" if c.name == reference else relative_cost(c.real_macs, reference_macs, reference)
        lines.append(f"{c.name:<{w}}{c.color_mode:<13}{c.params:>11,}{c.real_macs / 1e9:>9.2f} G  {relative:<24}"
                     f"{c.description}")
    lines.append(f"mult-adds: those the layers actually perform on one {image_size} x {image_size} photo. "
                 "`colorizekit info --model NAME` prints a model's layer table.")
    return "\n".join(lines)
