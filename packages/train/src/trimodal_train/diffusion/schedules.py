"""Noise schedules of absorbing-state (masked) diffusion and their ELBO weights.

A schedule gives the keep-probability ``alpha(t)`` of a clean token at time ``t in [0, 1]`` (``alpha(0) = 1``:
nothing masked; ``alpha(1) ~ 0``: everything masked), the mask probability ``s(t) = 1 - alpha(t)`` and the
continuous-time ELBO weight ``w(t) = -alpha'(t) / (1 - alpha(t))`` (MDLM, MD4). The negative ELBO of a
sequence is ``NELBO = int_0^1 w(t) E_{x_t}[ sum_{i masked} -log p(x0_i | x_t) ] dt``.

Schedules (``eps`` is the clamp; ``k`` the polynomial power):

========== =============================== ============================ ==============================
name        alpha(t)                        w(t) = -alpha'/(1-alpha)     t of mask probability s
========== =============================== ============================ ==============================
linear      1 - t                           1 / t                        s
cosine      1 - cos(pi/2 (1 - t))           (pi/2) / tan(pi t / 2)       (2/pi) asin(s)
            (= 1 - sin(pi t / 2))           (= (pi/2) tan(pi/2 (1-t)))
polynomial  1 - t^k                         k / t                        s^(1/k)
loglinear   1 - (1 - eps) t                 1 / t                        s / (1 - eps)
========== =============================== ============================ ==============================

``loglinear`` is MDLM's "log-linear" noise ``sigma(t) = -log(1 - (1 - eps) t)``, ``alpha = exp(-sigma)``: the
same weight as ``linear`` but ``alpha(1) = eps``, so a fraction ``eps`` of tokens stays visible even at
``t = 1`` [ours: MDLM's definition]. (``shared/paper.md`` writes the cosine weight as ``(pi/2) tan(pi t/2)``;
the derivative of its own ``alpha`` gives ``(pi/2) tan(pi/2 (1 - t))``, which is what MD4 writes and what is
implemented and tested here.)

Clamp. Times live in ``[eps, 1]`` (``w`` diverges at ``t = 0`` for all but the cosine schedule):
:meth:`Schedule.time_range` is ``(eps, 1)``. With complementary-mask pairs ("anti-masking", see
``masking.py``) the partner of a row at ``t`` has mask probability ``alpha(t)``, so the leader's range is
narrowed to ``(eps, t_max)`` with ``s(t_max) = 1 - s(eps)``: the partner's mask probability never drops
below ``s(eps)`` either. The partner's weight is :meth:`Schedule.complement_weight`
``w_c(t) = -alpha'(t) / alpha(t)`` (the weight ``w(t')`` of the partner time ``t' = t(1 - s(t))`` times the
Jacobian ``|dt'/dt|``), which keeps the pair an unbiased estimate for every schedule; for ``linear`` it is
``1 / (1 - t) = w(1 - t)``.

Values are computed in float64; outputs are float64 for float64 inputs and float32 otherwise.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Protocol, runtime_checkable

import torch


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """One modality span's noise schedule."""

    name: str = "linear"
    """Registry name: ``linear``, ``cosine``, ``polynomial`` or ``loglinear`` (see :data:`SCHEDULES`)."""
    k: float = 2.0
    """Power of the ``polynomial`` schedule (``alpha = 1 - t^k``); ignored by the others [ours: default 2]."""
    eps: float = 1e-3
    """Clamp: times are drawn in ``[eps, 1]`` (``loglinear`` also keeps ``alpha(1) = eps``)."""

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"ScheduleConfig.name: unknown schedule {self.name!r}; known: {', '.join(SCHEDULES)}")
        if not (isinstance(self.eps, int | float) and 0 < self.eps < 0.5):
            raise ValueError(f"ScheduleConfig.eps must be in (0, 0.5), got {self.eps!r}")
        if not (isinstance(self.k, int | float) and math.isfinite(self.k) and self.k > 0):
            raise ValueError(f"ScheduleConfig.k must be a positive number, got {self.k!r}")


@runtime_checkable
class Schedule(Protocol):
    """What the masking, the loss and the samplers need from a schedule (tensors in, tensors out)."""

    name: str
    eps: float

    def alpha(self, t: torch.Tensor) -> torch.Tensor: ...

    def dalpha(self, t: torch.Tensor) -> torch.Tensor: ...

    def mask_prob(self, t: torch.Tensor) -> torch.Tensor: ...

    def weight(self, t: torch.Tensor) -> torch.Tensor: ...

    def complement_weight(self, t: torch.Tensor) -> torch.Tensor: ...

    def time_of_mask_prob(self, s: torch.Tensor) -> torch.Tensor: ...

    def time_range(self, *, anti_masking: bool = False) -> tuple[float, float]: ...


def _f64(t: torch.Tensor | float) -> tuple[torch.Tensor, torch.dtype]:
    t = torch.as_tensor(t)
    out = torch.float64 if t.dtype == torch.float64 else torch.float32
    return t.to(torch.float64), out


class _Schedule:
    """Shared formulas; subclasses give ``alpha``, ``-alpha'``, ``w`` and the inverse in float64."""

    name: ClassVar[str]

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.eps = float(config.eps)

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _neg_dalpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _weight(self, t: torch.Tensor) -> torch.Tensor:
        return self._neg_dalpha(t) / (1.0 - self._alpha(t))

    def _inverse(self, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        """Keep probability ``alpha(t)``."""
        t64, out = _f64(t)
        return self._alpha(t64).to(out)

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        """Derivative ``alpha'(t)`` (non-positive)."""
        t64, out = _f64(t)
        return (-self._neg_dalpha(t64)).to(out)

    def mask_prob(self, t: torch.Tensor) -> torch.Tensor:
        """Mask probability ``1 - alpha(t)``."""
        t64, out = _f64(t)
        return (1.0 - self._alpha(t64)).to(out)

    def weight(self, t: torch.Tensor) -> torch.Tensor:
        """ELBO weight ``w(t) = -alpha'(t) / (1 - alpha(t))`` (closed form, see the module table)."""
        t64, out = _f64(t)
        return self._weight(t64).to(out)

    def complement_weight(self, t: torch.Tensor) -> torch.Tensor:
        """Weight ``-alpha'(t) / alpha(t)`` of the complementary-mask partner of a row at time ``t``."""
        t64, out = _f64(t)
        return (self._neg_dalpha(t64) / self._alpha(t64)).to(out)

    def time_of_mask_prob(self, s: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`mask_prob`: the ``t`` with ``1 - alpha(t) = s`` (clamped to ``[0, 1]``)."""
        s64, out = _f64(s)
        return self._inverse(s64).clamp(0.0, 1.0).to(out)

    def time_range(self, *, anti_masking: bool = False) -> tuple[float, float]:
        """``(lo, hi)`` of sampled times: ``(eps, 1)``, or ``(eps, t_max)`` for anti-masking leaders."""
        if not anti_masking:
            return self.eps, 1.0
        s_lo = 1.0 - float(self._alpha(torch.tensor(self.eps, dtype=torch.float64)))
        t_max = float(self.time_of_mask_prob(torch.tensor(1.0 - s_lo, dtype=torch.float64)))
        return self.eps, min(1.0, t_max)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config})"


class LinearSchedule(_Schedule):
    """``alpha = 1 - t``, ``w = 1 / t``."""

    name = "linear"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - t

    def _neg_dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)

    def _weight(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 / t

    def _inverse(self, s: torch.Tensor) -> torch.Tensor:
        return s


class CosineSchedule(_Schedule):
    """``alpha = 1 - cos(pi/2 (1 - t)) = 1 - sin(pi t / 2)``, ``w = (pi/2) / tan(pi t / 2)``."""

    name = "cosine"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - torch.sin(0.5 * math.pi * t)

    def _neg_dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)

    def _weight(self, t: torch.Tensor) -> torch.Tensor:
        return 0.5 * math.pi / torch.tan(0.5 * math.pi * t)

    def _inverse(self, s: torch.Tensor) -> torch.Tensor:
        return torch.asin(s.clamp(0.0, 1.0)) * (2.0 / math.pi)


class PolynomialSchedule(_Schedule):
    """``alpha = 1 - t^k``, ``w = k / t``."""

    name = "polynomial"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - t**self.config.k

    def _neg_dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return self.config.k * t ** (self.config.k - 1.0)

    def _weight(self, t: torch.Tensor) -> torch.Tensor:
        return self.config.k / t

    def _inverse(self, s: torch.Tensor) -> torch.Tensor:
        return s.clamp(min=0.0) ** (1.0 / self.config.k)


class LogLinearSchedule(_Schedule):
    """MDLM's log-linear noise: ``alpha = 1 - (1 - eps) t``, ``w = 1 / t``."""

    name = "loglinear"

    def _alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - (1.0 - self.eps) * t

    def _neg_dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(t, 1.0 - self.eps)

    def _weight(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 / t

    def _inverse(self, s: torch.Tensor) -> torch.Tensor:
        return s / (1.0 - self.eps)


SCHEDULES: dict[str, type[_Schedule]] = {
    cls.name: cls for cls in (LinearSchedule, CosineSchedule, PolynomialSchedule, LogLinearSchedule)
}
"""Registry of schedule classes by name; each takes a :class:`ScheduleConfig`."""


def build_schedule(config: ScheduleConfig) -> Schedule:
    """The schedule named by ``config.name``."""
    return SCHEDULES[config.name](config)
