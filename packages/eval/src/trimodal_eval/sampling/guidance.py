"""Classifier-free guidance for masked diffusion.

The unconditional input is the conditional one with the condition span (``condition_BL``: the pair row's
first span, content and maskable end token, as in training's condition dropout) replaced by ``mask``.
With conditional logits ``l_c``, unconditional ``l_u`` and scale ``w``::

    l = l_c + w (l_c - l_u)        (= l_u + (1 + w)(l_c - l_u); p ~ p_c^(1+w) / p_u^w)

``w = 0`` is the conditional sampler *exactly*: its rows take no unconditional forward and ``l = l_c``
bit for bit. Rows without a condition span (text continuation) are never guided. Ids that are ``-inf``
under ``l_c`` stay ``-inf``; ids ``-inf`` only under ``l_u`` are clamped to ``l_u = -1e4`` first so the
guided logit stays finite.

Time dependence [ours]: ``w(t) = w * shape(t)`` with ``t`` the row's current mask ratio of its target
(1 at the first step, falling to 0): ``constant`` (1), ``decay`` (``t``: strongest at the start, when the
condition matters most for the layout) or ``ramp`` (``1 - t``).
"""

from __future__ import annotations

from typing import Literal

import torch

GuidanceSchedule = Literal["constant", "decay", "ramp"]
GUIDANCE_SCHEDULES: tuple[str, ...] = ("constant", "decay", "ramp")
_FLOOR = -1e4


def guidance_weight(scale: float, schedule: str, mask_ratio_B: torch.Tensor) -> torch.Tensor:
    """``w(t)`` per row (float32) for mask ratios ``t`` in [0, 1]."""
    t_B = mask_ratio_B.to(torch.float32)
    if schedule == "constant":
        shape_B = torch.ones_like(t_B)
    elif schedule == "decay":
        shape_B = t_B
    elif schedule == "ramp":
        shape_B = 1.0 - t_B
    else:
        raise ValueError(f"guidance schedule {schedule!r}; known: {', '.join(GUIDANCE_SCHEDULES)}")
    return scale * shape_B


def guide(cond_NW: torch.Tensor, uncond_NW: torch.Tensor, weight_N: torch.Tensor) -> torch.Tensor:
    """``l_c + w (l_c - l_u)`` per row (rows with ``w = 0`` return ``l_c`` unchanged)."""
    guided_NW = torch.addcmul(cond_NW, weight_N[:, None].to(cond_NW.dtype), cond_NW - uncond_NW.clamp_min(_FLOOR))
    if bool((weight_N <= 0).any()):  # 0 * -inf and negative scales need the -inf ids restored
        guided_NW = torch.where(torch.isneginf(cond_NW), cond_NW, guided_NW)
        guided_NW = torch.where((weight_N == 0)[:, None], cond_NW, guided_NW)
    return guided_NW
