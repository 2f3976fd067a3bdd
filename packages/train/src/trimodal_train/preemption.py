"""Preemption flag shared by the launcher and the training loop.

A cluster warns a job before it stops it: SLURM (through submitit) sends ``SIGUSR2`` to global rank 0 ahead of
a time limit or a preemption. A signal handler cannot save a checkpoint itself (it interrupts the training step
at an arbitrary bytecode, and the other ranks never see the signal), so the handler only *requests* one:

1. the handler calls :func:`request_checkpoint` (it sets a process-local flag and nothing else, so it is
   safe inside a signal handler);
2. at every optimizer-step boundary the trainer calls :func:`agree_to_stop` on every rank: an all-reduce of the
   local flags with MAX, so ``stop = max_r flag_r`` and all ranks agree at the same step;
3. when it is True, all ranks write the same collective checkpoint and ``train`` returns ``preempted=True``;
   the launcher then requeues the job, which resumes from the latest complete checkpoint on disk.

Without an initialized process group (one process, or before ``init_process_group``) the local flag is the
answer.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_requested = threading.Event()
_reason: list[str] = []


def request_checkpoint(reason: str = "preempted") -> None:
    """Ask the training loop to checkpoint and stop at the next step boundary (signal-safe)."""
    _reason[:] = [reason]
    _requested.set()


def checkpoint_requested() -> bool:
    """Whether this process has received a checkpoint request (no communication)."""
    return _requested.is_set()


def reason() -> str | None:
    """The reason given with the last request, or None when there is none."""
    return _reason[0] if _requested.is_set() and _reason else None


def clear() -> None:
    """Forget any request (a resumed run starts clean)."""
    _requested.clear()
    _reason.clear()


def agree_to_stop(device: torch.device | str | None = None) -> bool:
    """All-reduce the local request flag (MAX) so every rank stops at the same step.

    Args:
        device: where the one-element flag tensor lives; pass the trainer's device (a CUDA device under
            NCCL). Defaults to CPU, which suits gloo.

    Returns:
        True on every rank when any rank has a pending request. Every rank of the default process group must
        call it at the same step, as with any collective.
    """
    import torch  # here, so launch code that only sets the flag does not import torch

    local = _requested.is_set()
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return local
    flag = torch.tensor([1 if local else 0], dtype=torch.int32, device=device or "cpu")
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
    stop = bool(flag.item())
    if stop and not local:
        log.debug("rank %d stops at a checkpoint request from another rank", torch.distributed.get_rank())
    return stop
