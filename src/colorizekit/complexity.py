"""A model's complexity for `colorizekit info`: its layer table, parameter count and mult-adds, in the
layout of the design documents' torchinfo summaries.

Mult-adds follow torchinfo's convention, which the design's figures use: for every convolution
and transposed convolution, (weights + biases) x output positions x batch; for BatchNorm, its
parameters x batch. Note that for a stride-2 transposed conv this convention counts 4x the
arithmetic actually done (each *input* position meets the kernel once); `real_macs` below gives
the arithmetic count used for FLOP-utilisation figures.

The forward pass that finds the layers runs on one photo; shapes and counts are scaled to the batch
asked for. In eval mode every layer treats the photos of a batch alike, so the figures are exact.
"""

from __future__ import annotations

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
    real_macs: int  # multiply-accumulates actually performed by convolutions, whole batch


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def summarize(model: nn.Module, input_shape: tuple[int, int, int, int], model_name: str = "") -> ModelSummary:
    """Tabulate the model for a batch of `input_shape` (N, C, H, W): one forward pass on zeros of shape
    (1, C, H, W), on the model's device, scaled to N photos."""
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

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        calls[open_calls[module].pop()][1] = tuple(output.shape)
        n = output.shape[0]
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            counts["mult_adds"] += n * output.shape[2:].numel() * _own_params(module)
            per_position = module.weight.numel()
            positions = (inputs[0] if isinstance(module, nn.ConvTranspose2d) else output).shape[2:].numel()
            counts["real_macs"] += n * positions * per_position
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
        f"Convolution MACs actually performed (G): {s.real_macs / 1e9:.2f}",
        bar,
    ]
    return "\n".join(lines)
