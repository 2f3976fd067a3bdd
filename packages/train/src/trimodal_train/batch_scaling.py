"""The SDE batch-size reparameterization of AdamW (logical vs physical batch).

Tune AdamW once at a base batch ``B_base`` (sequences) and token horizon ``D_base``. For a run with
physical batch ``B`` and horizon ``D`` (token slots, ``D = L * B * S`` for ``S`` optimizer steps) set
``kappa = (D_base / D) ** gamma * (B / B_base)`` and

* ``lr = lr_base * sqrt(kappa)``
* ``beta_i = beta_i_base ** kappa``
* ``eps = eps_base / sqrt(kappa)``
* weight decay, by ``weight_decay_rule``:

  - ``per_token`` (default): ``wd = wd_base * sqrt(kappa)``. PyTorch's AdamW decays by ``lr * wd`` per step,
    so ``lr * wd`` grows by ``kappa``, the SDE time a physical step covers: the decay per unit of SDE time
    (per token at ``gamma = 0``) stays constant. This is the rule relayed from "Completed Hyperparameter
    Transfer" (arXiv 2512.22382) [2nd].
  - ``per_step``: ``wd = wd_base * lr_base / lr`` keeps ``lr * wd`` per step constant (this module's first rule,
    [ours]); it under-decays large-batch runs by ``kappa`` relative to ``per_token``.
  - ``fixed``: ``wd = wd_base``.

The run then follows the same SDE as a run with the base hyperparameters at the *logical batch*
``B~ = B / kappa`` for ``S~ = kappa * S`` *logical steps* (``D = L * B~ * S~``): physical step ``s`` is logical
step ``kappa * s``. While ``B <= B_crit = D / (L * S_crit)`` (``S_crit``: the fewest optimizer steps that still
approximate the SDE) the approximation holds; above it results degrade and :func:`scale_adamw` reports a
warning. See ``shared/paper.md``; ``gamma`` defaults to 0.44 as relayed from the paper, and is configurable
(it was fitted for one schedule and shape and should be measured).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

WeightDecayRule = Literal["per_token", "per_step", "fixed"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdamWBase:
    """Hyperparameters tuned once at the base batch and horizon."""

    lr: float = 3e-4
    """Peak learning rate."""
    beta1: float = 0.9
    """First-moment decay."""
    beta2: float = 0.95
    """Second-moment decay."""
    eps: float = 1e-8
    """Denominator epsilon."""
    weight_decay: float = 0.1
    """PyTorch-AdamW (decoupled, multiplied by lr) weight decay."""
    batch_size: int = 256
    """``B_base``: sequences per optimizer step in the base run (the paper's pilots: 256 [2nd])."""
    tokens: float = 13e9
    """``D_base``: training tokens of the base run (the paper's pilots: 13B [2nd])."""

    def __post_init__(self) -> None:
        for name in ("lr", "eps", "batch_size", "tokens"):
            if not getattr(self, name) > 0:
                raise ValueError(f"AdamWBase.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"AdamWBase.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.weight_decay < 0:
            raise ValueError(f"AdamWBase.weight_decay must be >= 0, got {self.weight_decay!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScaledAdamW:
    """AdamW hyperparameters for the physical run, with the SDE bookkeeping."""

    kappa: float
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    steps: int
    """Optimizer steps the run takes: ``D / (L * B)``."""
    logical_batch_size: float
    """``B~ = B / kappa``: the batch whose base-hyperparameter run follows the same SDE."""
    logical_steps: float
    """``S~ = kappa * steps``."""
    critical_batch_size: float | None
    """``B_crit = D / (L * S_crit)`` when ``S_crit`` was given."""
    warning: str | None


def scale_adamw(
    base: AdamWBase,
    *,
    batch_size: int,
    tokens: float,
    seq_len: int,
    gamma: float = 0.44,
    min_steps: int | None = None,
    weight_decay_rule: WeightDecayRule = "per_token",
) -> ScaledAdamW:
    """Transfer ``base`` to a run with physical ``batch_size`` sequences and a ``tokens`` horizon.

    Args:
        min_steps: ``S_crit``, the fewest optimizer steps that still approximate the SDE; when given,
            the result carries ``B_crit`` and a warning if ``batch_size`` exceeds it.
        weight_decay_rule: how weight decay follows kappa (see the module docstring).
    """
    if batch_size < 1 or seq_len < 1 or not tokens > 0:
        raise ValueError("batch_size, seq_len and tokens must be positive")
    if min_steps is not None and min_steps < 1:
        raise ValueError(f"min_steps must be positive, got {min_steps}")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    kappa = (base.tokens / tokens) ** gamma * (batch_size / base.batch_size)
    lr = base.lr * math.sqrt(kappa)
    if weight_decay_rule == "per_token":
        weight_decay = base.weight_decay * math.sqrt(kappa)
    elif weight_decay_rule == "per_step":
        weight_decay = base.weight_decay * base.lr / lr
    elif weight_decay_rule == "fixed":
        weight_decay = base.weight_decay
    else:
        raise ValueError(f"weight_decay_rule must be per_token|per_step|fixed, got {weight_decay_rule!r}")
    steps = max(1, int(tokens // (seq_len * batch_size)))
    b_crit = tokens / (seq_len * min_steps) if min_steps is not None else None
    warning = None
    if b_crit is not None and batch_size > b_crit:
        warning = (
            f"physical batch {batch_size} exceeds the critical batch {b_crit:.1f} "
            f"(= D / (L * S_crit) with S_crit={min_steps}): the run leaves the SDE regime and results degrade"
        )
    return ScaledAdamW(
        kappa=kappa,
        lr=lr,
        beta1=base.beta1**kappa,
        beta2=base.beta2**kappa,
        eps=base.eps / math.sqrt(kappa),
        weight_decay=weight_decay,
        steps=steps,
        logical_batch_size=batch_size / kappa,
        logical_steps=kappa * steps,
        critical_batch_size=b_crit,
        warning=warning,
    )
