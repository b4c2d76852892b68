"""The machine: which device a model runs on, at which precision, and how many CPU cores there are.

Training, colorizing, evaluation, the CLI and the web app all ask this module, so each of these
decisions is made in one place.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

PRECISIONS = ("auto", "bf16", "fp32")  # "auto": see resolve_precision
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs that run bf16 natively


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """A torch device from "auto"/None (CUDA when available, else the CPU), "cpu", "cuda", "cuda:1"...
    Raises ValueError when CUDA is asked for and not available."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(name)!r} asked for, but CUDA is not available")
    return device


@functools.lru_cache(maxsize=1)
def cpu_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> tuple[bool, str]:
    """(whether this CPU runs bf16 natively, why): looks for the AMX-BF16 or AVX512-BF16 capability in
    the CPU's flags rather than guessing from its vendor or model."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False, "the CPU's capabilities could not be read"
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    found = [f for f in CPU_BF16_FLAGS if f in flags]
    if found:
        return True, f"the CPU runs bf16 natively ({', '.join(found)})"
    return False, "the CPU has no native bf16 (neither AMX-BF16 nor AVX512-BF16)"


def resolve_precision(precision: str, device: torch.device) -> tuple[torch.dtype, str]:
    """(compute dtype, reason) for a model on `device`, for training and colorizing alike.

    "fp32" and "bf16" are taken as asked. "auto" means bf16 autocast where the hardware runs bf16
    natively (CUDA GPUs that support it; CPUs with AMX-BF16 or AVX512-BF16), else fp32. Colour
    conversions and losses always run in fp32; only the network runs in bf16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "auto":
        return (torch.bfloat16 if precision == "bf16" else torch.float32), f"{precision} as asked"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "auto: the GPU supports bf16"
        return torch.float32, "auto: the GPU does not support bf16"
    if device.type == "cpu":
        native, why = cpu_native_bf16()
        return (torch.bfloat16 if native else torch.float32), f"auto: {why}"
    return torch.float32, f"auto: fp32 on {device.type}"


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as the OS reports it, or "CPU" when it cannot be read."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "CPU"


def precision_name(dtype: torch.dtype) -> str:
    """"bf16" or "fp32"."""
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def cpu_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS tells, else os.cpu_count())."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
