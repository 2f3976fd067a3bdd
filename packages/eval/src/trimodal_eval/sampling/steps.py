"""Step schedules: how many tokens of a block are unmasked at each of its steps.

A schedule is a mask-ratio curve ``gamma(r)`` over the progress ``r = i / S`` of a block of ``n`` tokens in
``S`` steps (``gamma(0) = 1``: all masked, ``gamma(1) = 0``). After step ``i`` the block keeps
``m_i = floor(n * gamma(i / S))`` masked tokens (``m_0 = n``, ``m_S = 0``), so step ``i`` unmasks
``k_i = m_{i-1} - m_i >= 0`` tokens (MaskGIT's rounding):

=========== ============================================ ============================================
name         gamma(r)                                     note
=========== ============================================ ============================================
equal        (not a curve) ``n // S`` per step, the       LLaDA's ``get_num_transfer_tokens``
             first ``n % S`` steps one more
cosine       cos(pi r / 2)                                MaskGIT; few tokens first, many at the end
arccos       (2 / pi) arccos(r)                           more than cosine first, most in the last step
noise        s(1 - r) / s(1), s = 1 - alpha of a          the training noise schedule run backwards
             ``trimodal_train.diffusion`` schedule        (linear: equal up to rounding; cosine = cosine)
=========== ============================================ ============================================

Steps with ``k_i = 0`` (cosine or arccos with ``S`` near ``n``, or ``S > n``) change nothing: the sampler
skips their model call (the model takes no time input, so the logits would be the same); the steps of a
block after its last token is unmasked are not taken at all.

Semi-autoregressive generation splits a row's ``T`` target tokens into blocks of ``block_length``; a row's
``S`` steps are shared among its blocks in proportion to their sizes (largest remainder, at least one step
per block; equal blocks get ``S / num_blocks`` each when it divides, as in LLaDA).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch

StepScheduleName = Literal["equal", "cosine", "arccos", "noise"]
STEP_SCHEDULES: tuple[str, ...] = ("equal", "cosine", "arccos", "noise")


def noise_mask_ratio(name: str, k: float = 2.0) -> Callable[[float], float]:
    """``gamma(r) = s(1 - r) / s(1)`` of the training noise schedule ``name`` (``trimodal_train.diffusion``)."""
    from trimodal_train.diffusion.schedules import ScheduleConfig, build_schedule

    schedule = build_schedule(ScheduleConfig(name=name, k=k))
    top = float(schedule.mask_prob(torch.tensor(1.0, dtype=torch.float64)))

    def gamma(r: float) -> float:
        return float(schedule.mask_prob(torch.tensor(1.0 - r, dtype=torch.float64))) / top

    return gamma


def mask_ratio(name: str, *, noise_schedule: str = "linear", noise_k: float = 2.0) -> Callable[[float], float]:
    """The curve ``gamma(r)`` of a step schedule (not for ``equal``)."""
    if name == "cosine":
        return lambda r: math.cos(math.pi * r / 2)
    if name == "arccos":
        return lambda r: 2 / math.pi * math.acos(min(1.0, max(0.0, r)))
    if name == "noise":
        return noise_mask_ratio(noise_schedule, noise_k)
    raise ValueError(f"step schedule {name!r} has no mask-ratio curve; known: {', '.join(STEP_SCHEDULES)}")


def step_counts(n: int, steps: int, gamma: Callable[[float], float] | None) -> list[int]:
    """Tokens unmasked at each of ``steps`` steps of an ``n``-token block (sums to ``n``; ``None`` = equal)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if gamma is None:
        base, extra = divmod(n, steps)
        return [base + (i < extra) for i in range(steps)]
    masked = [n] + [min(n, max(0, math.floor(n * gamma(i / steps) + 1e-9))) for i in range(1, steps)] + [0]
    for i in range(1, len(masked)):  # a curve that is not monotone never un-unmasks a token
        masked[i] = min(masked[i], masked[i - 1])
    return [masked[i - 1] - masked[i] for i in range(1, steps + 1)]


def split_steps(total: int, block_sizes: list[int]) -> list[int]:
    """Steps per block: ``total`` shared in proportion to the sizes (largest remainder, each block >= 1)."""
    n = sum(block_sizes)
    if not block_sizes:
        return []
    ideal = [total * b / n for b in block_sizes]
    share = [max(1, math.floor(x)) for x in ideal]
    by_remainder = sorted(range(len(ideal)), key=lambda i: (-(ideal[i] - math.floor(ideal[i])), i))
    for i in by_remainder[: max(0, total - sum(share))]:
        share[i] += 1
    return share


def plan_row(
    length: int,
    *,
    steps: int | None,
    block_length: int | None,
    gamma: Callable[[float], float] | None,
) -> tuple[list[int], list[int]]:
    """``(counts, blocks)``: tokens to unmask and block index of each step of one row with ``length`` targets."""
    if length == 0:
        return [], []
    size = block_length or length
    sizes = [min(size, length - start) for start in range(0, length, size)]
    per_block = split_steps(length if steps is None else steps, sizes)
    counts: list[int] = []
    blocks: list[int] = []
    for b, (n, s) in enumerate(zip(sizes, per_block, strict=True)):
        c = step_counts(n, s, gamma)
        counts += c
        blocks += [b] * len(c)
    return counts, blocks
