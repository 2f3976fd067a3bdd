"""Process-group setup and model wrapping for data-parallel training.

:func:`init_distributed` reads the launcher's environment: torchrun (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``) or, inside a submitit job without those, submitit's
``TorchDistributedEnvironment`` (SLURM or local executor), which exports the same variables. One process
without either is a plain single-process run (no process group). The backend is ``nccl`` on CUDA and
``gloo`` on CPU. :func:`wrap_model` applies DDP or FSDP2 (``torch.distributed.fsdp.fully_shard``: each
transformer block is its own shard group, then the root); with one process the model is returned as is.
Logging from ranks other than 0 is limited to warnings (``trimodal_core.setup_logging``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
from collections.abc import Iterator
from typing import Any, Literal

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)
Parallelism = Literal["ddp", "fsdp"]


@dataclasses.dataclass(frozen=True)
class DistContext:
    """Where this process stands in the data-parallel group."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None
    """Process-group backend, None when not distributed."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``auto``: this rank's CUDA device when CUDA is available, else the CPU; ``cpu``/``cuda``/``cuda:N`` as given."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("run.device='cuda' but CUDA is not available")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.startswith("cuda:") or device == "cpu":
        return torch.device(device)
    raise ValueError(f"run.device must be auto, cpu, cuda or cuda:N, got {device!r}")


def _export_submitit_env() -> None:
    if "RANK" in os.environ or "SUBMITIT_EXECUTOR" not in os.environ:
        return
    from submitit.helpers import TorchDistributedEnvironment

    TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


def init_distributed(device: str = "auto", *, timeout_s: float = 1800.0) -> DistContext:
    """Join the process group described by the environment (or run alone) and pick this rank's device."""
    _export_submitit_env()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world_size == 1:
        return DistContext(rank=0, world_size=1, local_rank=0, device=dev, backend=None)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        kwargs: dict[str, Any] = {"backend": backend, "timeout": datetime.timedelta(seconds=timeout_s)}
        if dev.type == "cuda":
            kwargs["device_id"] = dev
        dist.init_process_group(**kwargs)
    if dist.get_world_size() != world_size or dist.get_rank() != rank:
        raise RuntimeError(f"process group ({dist.get_rank()}/{dist.get_world_size()}) disagrees with "
                           f"RANK={rank} WORLD_SIZE={world_size}")
    log.info("distributed: %d ranks, backend %s, device %s", world_size, backend, dev)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend)


def shutdown_distributed(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, ctx: DistContext, parallelism: Parallelism) -> torch.nn.Module:
    """DDP or FSDP2 around ``model`` (already on ``ctx.device``); unchanged for a single process.

    FSDP2 shards each block of ``model.blocks`` (when present) and then the root module, the usual
    per-transformer-block grouping.
    """
    if not ctx.distributed:
        return model
    if parallelism == "ddp":
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    if parallelism == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in getattr(model, "blocks", ()):
            fully_shard(block)
        fully_shard(model)
        return model
    raise ValueError(f"run.parallelism must be 'ddp' or 'fsdp', got {parallelism!r}")


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP / ``torch.compile`` wrappers (FSDP2 modules are their own class)."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None or not isinstance(inner, torch.nn.Module):
            return model
        model = inner


@contextlib.contextmanager
def no_sync(model: torch.nn.Module, enabled: bool) -> Iterator[None]:
    """Skip the gradient all-reduce of a non-final micro-step (DDP ``no_sync``; FSDP2
    ``set_requires_gradient_sync(False)``); a no-op otherwise."""
    if not enabled:
        yield
        return
    model = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    if isinstance(model, torch.nn.parallel.DistributedDataParallel):
        with model.no_sync():
            yield
        return
    setter = getattr(model, "set_requires_gradient_sync", None)
    if setter is None:
        yield
        return
    setter(False)
    try:
        yield
    finally:
        setter(True)


def all_reduce_sum(tensor: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (a no-op on one process); returns it."""
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def any_rank(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when ``flag`` is true on at least one (all ranks must call it)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
