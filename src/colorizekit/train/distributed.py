"""Distributed training set-up: joining a torchrun job, and the few collectives training needs.

Run `colorizekit train` under `torchrun --nproc_per_node=N`: each process reads its rank from the
environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR...), uses NCCL on CUDA and gloo on the CPU,
and only rank 0 writes files and logs. Without torchrun everything here is a no-op on one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from colorizekit.hardware import resolve_device


@dataclass(frozen=True)
class Dist:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    owns_group: bool = False  # we initialised the process group (and destroy it at the end)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def _device_for_rank(name: str, local_rank: int, distributed: bool) -> torch.device:
    device = resolve_device(name)
    if device.type == "cuda":
        if distributed or device.index is None:
            device = torch.device("cuda", local_rank if distributed else torch.cuda.current_device())
        torch.cuda.set_device(device)
    return device


def setup_distributed(device_name: str) -> tuple[Dist, torch.device]:
    """Join the torchrun job described by the environment (or an already initialised process group);
    a single process when there is none. Returns this process's Dist and its device."""
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        ctx = Dist(rank, world, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", world)), owns_group=False)
        return ctx, _device_for_rank(device_name, local_rank, ctx.enabled)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), _device_for_rank(device_name, 0, False)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = _device_for_rank(device_name, local_rank, True)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo", init_method="env://",
                            world_size=world, rank=rank, device_id=device if device.type == "cuda" else None)
    return Dist(rank, world, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", world)), owns_group=True), device


def teardown(ctx: Dist) -> None:
    """Leave the process group if we created it."""
    if ctx.owns_group:
        dist.destroy_process_group()


def broadcast_object(obj: Any, ctx: Dist) -> Any:
    """Rank 0's `obj` on every rank."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_rank0(fn: Callable[[], Any], ctx: Dist) -> Any:
    """fn() on rank 0, its result (or its one-line ValueError/FileNotFoundError, raised) on every rank,
    so that no rank fails alone."""
    out: dict[str, Any] = {}
    if ctx.is_main:
        try:
            out = {"value": fn()}
        except (ValueError, FileNotFoundError) as exc:
            out = {"error": str(exc), "not_found": isinstance(exc, FileNotFoundError)}
    out = broadcast_object(out, ctx)
    if "error" in out:
        raise (FileNotFoundError if out["not_found"] else ValueError)(out["error"])
    return out["value"]


def all_gather_objects(obj: Any, ctx: Dist) -> list[Any]:
    """Every rank's `obj`, in rank order."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(t: torch.Tensor, ctx: Dist) -> torch.Tensor:
    """The sum of `t` over all ranks (in place)."""
    if ctx.enabled:
        dist.all_reduce(t)
    return t


def any_rank(flag: bool, ctx: Dist, device: torch.device) -> bool:
    """Whether `flag` is true on any rank (every rank gets the same answer)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(ctx: Dist) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_buffers(module: torch.nn.Module, ctx: Dist) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics drift apart within a step)."""
    if ctx.enabled:
        for buf in module.buffers():
            dist.broadcast(buf, src=0)
