"""Learning-rate schedules: a multiplier of the peak learning rate as a function of the optimizer step.

Two shapes, both with a linear warmup from ``warmup_start`` (a fraction of the peak) to 1 over ``W`` steps,
``W = min(warmup_steps, floor(max_warmup_fraction * S))`` (the paper's pilots: 1k warmup steps capped at 25%
of the run, [2nd]); ``S`` is the run's optimizer steps and ``r = min_lr_ratio``:

* ``cosine``: after warmup, ``f(s) = r + (1 - r) * (1 + cos(pi * p)) / 2`` with ``p = (s - W) / (S - W)``.
* ``wsd`` (warmup-stable-decay): ``f = 1`` until the last ``D = round(decay_fraction * S)`` steps, then decays
  to ``r`` with ``p = (s - (S - D)) / D`` as ``1 - p`` (``linear``), ``1 - sqrt(p)`` (``sqrt``) or the cosine
  above (``cosine``), mapped to ``[r, 1]``.
* ``constant``: 1 after warmup.

Step ``s`` is the index of the optimizer step about to be taken (0-based), so the first step uses
``f(0) = warmup_start``. :func:`build_lr_scheduler` wraps the multiplier in ``torch.optim.lr_scheduler.LambdaLR``
(its state is the step count: it is saved and restored with the checkpoint).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch

ScheduleName = Literal["cosine", "wsd", "constant"]
DecayShape = Literal["linear", "sqrt", "cosine"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LRScheduleConfig:
    """Shape of the learning rate over the run (a multiplier of each parameter group's peak lr)."""

    name: ScheduleName = "cosine"
    """``cosine`` (warmup + cosine decay), ``wsd`` (warmup-stable-decay) or ``constant`` (after warmup)."""
    warmup_steps: int = 1000
    """Linear warmup length in optimizer steps (the paper's pilots: 1k [2nd]), capped by ``max_warmup_fraction``."""
    max_warmup_fraction: float = 0.25
    """Warmup is at most this fraction of the run's steps (25% in the paper's pilots [2nd])."""
    warmup_start: float = 0.0
    """Multiplier at step 0 (0: the first step takes no update; [ours])."""
    min_lr_ratio: float = 0.1
    """Final multiplier ``r`` of cosine and wsd decays [ours]."""
    decay_fraction: float = 0.2
    """wsd: fraction of the run spent decaying [ours]."""
    decay_shape: DecayShape = "linear"
    """wsd: shape of the final decay."""

    def __post_init__(self) -> None:
        if self.name not in ("cosine", "wsd", "constant"):
            raise ValueError(f"LRScheduleConfig.name must be cosine|wsd|constant, got {self.name!r}")
        if self.decay_shape not in ("linear", "sqrt", "cosine"):
            raise ValueError(f"LRScheduleConfig.decay_shape must be linear|sqrt|cosine, got {self.decay_shape!r}")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"LRScheduleConfig.warmup_steps must be a non-negative integer, got {self.warmup_steps!r}")
        for name in ("max_warmup_fraction", "warmup_start", "min_lr_ratio", "decay_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"LRScheduleConfig.{name} must be in [0, 1], got {value!r}")

    def warmup(self, total_steps: int) -> int:
        """Warmup steps actually used in a run of ``total_steps``."""
        return min(self.warmup_steps, int(self.max_warmup_fraction * total_steps))


def _decay(p: float, shape: DecayShape) -> float:
    """A decay from 1 (p = 0) to 0 (p = 1)."""
    p = min(max(p, 0.0), 1.0)
    if shape == "linear":
        return 1.0 - p
    if shape == "sqrt":
        return 1.0 - math.sqrt(p)
    return 0.5 * (1.0 + math.cos(math.pi * p))


def lr_multiplier(config: LRScheduleConfig, step: int, total_steps: int) -> float:
    """The multiplier of the peak lr for optimizer step ``step`` (0-based) of a ``total_steps`` run."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    warmup = config.warmup(total_steps)
    if step < warmup:
        return config.warmup_start + (1.0 - config.warmup_start) * step / warmup
    r = config.min_lr_ratio
    if config.name == "constant":
        return 1.0
    if config.name == "cosine":
        span = max(total_steps - warmup, 1)
        return r + (1.0 - r) * _decay((step - warmup) / span, "cosine")
    decay_steps = max(round(config.decay_fraction * total_steps), 1)
    start = total_steps - decay_steps
    if step < start:
        return 1.0
    return r + (1.0 - r) * _decay((step - start) / decay_steps, config.decay_shape)


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer, config: LRScheduleConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """``LambdaLR`` applying :func:`lr_multiplier` to every parameter group's peak (``initial_lr``)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(config, step, total_steps))
